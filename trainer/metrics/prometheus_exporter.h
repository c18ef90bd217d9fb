// PrometheusExporter: a rank's training metrics at http://HOST:PORT/metrics (prometheus-cpp
// registry and text format),
// every series labelled with the rank. Names follow Prometheus conventions: base units,
// `_total` counters, no `job` label (the scraper adds it).
//   gauges      dpo_train_loss, dpo_train_reward_{chosen,rejected,margin,accuracy_ratio},
//               dpo_train_logp_{chosen,rejected}, dpo_train_log_ratio_{chosen,rejected} (the KL
//               proxy: mean log pi - log pi_ref), dpo_train_grad_norm, dpo_train_learning_rate,
//               dpo_checkpoint_last_success_timestamp_seconds, dpo_build_info{version,torch_version,device}
//   counters    dpo_train_steps_total, dpo_train_tokens_total, dpo_train_pairs_total,
//               dpo_train_pairs_dropped_total{reason}, dpo_train_skipped_steps_total{reason}
//   histograms  dpo_train_step_duration_seconds, dpo_train_reference_wait_seconds,
//               dpo_train_allreduce_duration_seconds
#pragma once

#include <memory>
#include <string>

#include "trainer/loop/training_observer.h"

namespace dpo {

class PrometheusExporter final : public TrainingObserver {
 public:
  // Serves /metrics on `listen_address` ("HOST:PORT"; port 0 picks a free one; see
  // MetricsHttpServer). `beta` turns rewards back into log-ratios. Throws Error(kInvalidInput)
  // naming the address when it cannot listen.
  PrometheusExporter(const std::string& listen_address, int rank, double beta, const std::string& device);
  ~PrometheusExporter() override;

  // The bound port.
  int port() const;

  void OnDataLoaded(const std::map<std::string, int64_t>& dropped_by_reason) override;
  void OnStep(const StepReport& report) override;
  void OnCheckpoint(int64_t step) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "HOST:PORT" of rank `local_rank`'s endpoint for metrics.prometheus_listen (PORT + local rank),
// or "" when the port is 0 (disabled).
std::string RankMetricsAddress(const std::string& prometheus_listen, int local_rank);

}  // namespace dpo
