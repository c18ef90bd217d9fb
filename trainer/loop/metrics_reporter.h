// MetricsReporter: the training observer behind metrics.jsonl and the progress line. It sums
// steps over each logging interval (training.logging_steps, and the last step) and writes one
// record per interval with TRL's keys, plus each evaluation's record.
#pragma once

#include <cstdint>

#include "core/common/clock.h"
#include "core/loss/pair_metrics.h"
#include "trainer/loop/metrics_log.h"
#include "trainer/loop/training_observer.h"

namespace dpo {

struct MetricsReporterOptions {
  int64_t logging_steps = 10;  // training.logging_steps
  double beta = 0.1;           // training.beta: rewards / beta are the log-ratios (the KL proxy)
  int world_size = 1;          // > 1 adds time/grad_sync_s
};

class MetricsReporter final : public TrainingObserver {
 public:
  // `log` may be null (ranks other than 0 write no file); both must outlive the reporter.
  MetricsReporter(MetricsReporterOptions options, MetricsLog* log, ProgressLine& progress);

  void OnStep(const StepReport& report) override;
  void OnEvaluation(const EvalReport& report) override;

 private:
  // The steps since the last record.
  struct Interval {
    int64_t steps = 0;
    double loss = 0;
    PairMetricSums metrics;
    int64_t tokens = 0;
    int64_t pairs = 0;
    double grad_sync_seconds = 0;
    Clock::time_point started = Clock::now();
  };

  MetricsReporterOptions options_;
  MetricsLog* log_;
  ProgressLine& progress_;
  Interval interval_;
  Clock::time_point run_started_ = Clock::now();
  int64_t steps_this_run_ = 0;
};

}  // namespace dpo
