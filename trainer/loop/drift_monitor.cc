// The once-per-run drift warning.
#include "trainer/loop/drift_monitor.h"

#include <sstream>

namespace dpo {

std::optional<std::string> DriftMonitor::Observe(int64_t step, const std::map<std::string, double>& means) {
  if (threshold_nats_ <= 0 || warned_) return std::nullopt;
  const double chosen = means.at("logps/chosen");
  const double rejected = means.at("logps/rejected");
  if (!first_chosen_) {
    first_chosen_ = chosen;
    first_rejected_ = rejected;
    return std::nullopt;
  }
  const double drop = *first_chosen_ - chosen;
  if (!(drop > threshold_nats_)) return std::nullopt;
  warned_ = true;
  std::ostringstream message;
  message.precision(4);
  message << "warning: step " << step << ": the mean log-prob of the chosen responses fell from " << *first_chosen_
          << " to " << chosen << " (by " << drop << " nats, more than metrics.drift_warning_nats=" << threshold_nats_
          << "); rejected: " << *first_rejected_ << " -> " << rejected << ", reward margin " << means.at("rewards/margins")
          << ". The policy is moving probability away from both responses, toward text the data never showed "
             "(a known DPO failure): consider training.rpo_alpha > 0, a larger training.beta or a lower "
             "training.learning_rate";
  return message.str();
}

void DriftMonitor::OnStep(const StepReport& report) {
  const std::optional<std::string> warning = Observe(report.step, report.means);
  if (warning && warn_) warn_(*warning);
}

}  // namespace dpo
