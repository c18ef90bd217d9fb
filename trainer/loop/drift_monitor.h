// DriftMonitor: catches DPO's known failure where the policy lowers the log-probability of the
// chosen responses too (both log-probs fall while the margin grows), drifting toward responses
// the data never showed. It compares each step's mean chosen log-prob with the first step's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace dpo {

class DriftMonitor {
 public:
  // `threshold_nats` <= 0 disables the monitor.
  explicit DriftMonitor(double threshold_nats) : threshold_nats_(threshold_nats) {}

  // `means` holds PairMetricSums::Means() of one step (logps/chosen, logps/rejected,
  // rewards/margins). Returns a warning, once per run, the first time logps/chosen is more
  // than the threshold below its value at the first observed step; otherwise nothing.
  std::optional<std::string> Observe(int64_t step, const std::map<std::string, double>& means);

 private:
  double threshold_nats_;
  std::optional<double> first_chosen_;
  std::optional<double> first_rejected_;
  bool warned_ = false;
};

}  // namespace dpo
