// TrainingObserver: what the training loop reports as it runs. The step itself reports nothing;
// the loop hands each step's report to its observers, which decide their own timing: the
// metrics log and progress line (metrics_reporter.h), the drift monitor (drift_monitor.h), the
// Prometheus exporter (trainer/metrics/). Calls come from the training thread between steps; keep
// them cheap.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/loss/pair_metrics.h"

namespace dpo {

// One optimizer step. Loss, metrics, tokens and pairs are summed over every rank (the same on
// each); the durations are this rank's own.
struct StepReport {
  int64_t step = 0;                     // 1-based, after the update
  int64_t total_steps = 0;              // of the whole run
  double epoch = 0;                     // step / steps per epoch
  double loss = 0;
  PairMetricSums metric_sums;           // of the global batch
  std::map<std::string, double> means;  // metric_sums.Means() (rewards/chosen, logps/chosen, ...)
  double grad_norm = 0;
  double learning_rate = 0;
  int64_t tokens = 0;                   // non-padding tokens of the step
  int64_t pairs = 0;                    // the global batch
  bool skipped = false;                 // non-finite loss or gradient: the update was skipped
  std::string skip_reason;              // "nonfinite_loss" or "nonfinite_gradient" when skipped
  double step_seconds = 0;
  double reference_wait_seconds = 0;    // blocked on reference log-probs (local forward or server)
  double allreduce_seconds = 0;         // waiting for the gradient all-reduce (0 on one rank)
  // Run totals after this step (they survive a resume).
  int64_t tokens_seen = 0;
  int64_t skipped_steps = 0;
};

// One pass over the evaluation set after step `step`, summed over every rank.
struct EvalReport {
  int64_t step = 0;
  double loss = 0;
  std::map<std::string, double> means;  // PairMetricSums::Means() keys
};

class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // Pairs dropped or skipped while loading the training data, by reason.
  virtual void OnDataLoaded(const std::map<std::string, int64_t>& dropped_by_reason) { (void)dropped_by_reason; }
  virtual void OnStep(const StepReport& report) = 0;
  virtual void OnEvaluation(const EvalReport& report) { (void)report; }
  // A checkpoint of `step` is complete on disk (rank 0 only).
  virtual void OnCheckpoint(int64_t step) { (void)step; }
};

}  // namespace dpo
