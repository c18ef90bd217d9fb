// DriftMonitor: catches DPO's known failure where the policy lowers the log-probability of the
// chosen responses too (both log-probs fall while the margin grows), drifting toward responses
// the data never showed. It compares each step's mean chosen log-prob with the first step's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "trainer/loop/training_observer.h"

namespace dpo {

class DriftMonitor final : public TrainingObserver {
 public:
  using WarningSink = std::function<void(const std::string& warning)>;

  // `threshold_nats` <= 0 disables the monitor. As an observer it hands its warning to `warn`
  // (e.g. print it on rank 0; empty: drop it).
  explicit DriftMonitor(double threshold_nats, WarningSink warn = {})
      : threshold_nats_(threshold_nats), warn_(std::move(warn)) {}

  // Observe(report.step, report.means), passing a warning to the sink.
  void OnStep(const StepReport& report) override;

  // `means` holds PairMetricSums::Means() of one step (logps/chosen, logps/rejected,
  // rewards/margins). Returns a warning, once per run, the first time logps/chosen is more
  // than the threshold below its value at the first observed step; otherwise nothing.
  std::optional<std::string> Observe(int64_t step, const std::map<std::string, double>& means);

 private:
  double threshold_nats_;
  WarningSink warn_;
  std::optional<double> first_chosen_;
  std::optional<double> first_rejected_;
  bool warned_ = false;
};

}  // namespace dpo
