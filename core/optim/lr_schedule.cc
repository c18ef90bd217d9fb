// HF-compatible learning-rate schedules.
#include "core/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"

namespace dpo {

LrSchedulerKind ParseLrScheduler(std::string_view name) {
  if (name == "constant") return LrSchedulerKind::kConstant;
  if (name == "linear") return LrSchedulerKind::kLinear;
  if (name == "cosine") return LrSchedulerKind::kCosine;
  throw InvalidInput("training.lr_scheduler=\"" + std::string(name) + "\" is not supported (supported: constant, linear, cosine)");
}

const char* LrSchedulerName(LrSchedulerKind kind) {
  switch (kind) {
    case LrSchedulerKind::kConstant: return "constant";
    case LrSchedulerKind::kLinear: return "linear";
    case LrSchedulerKind::kCosine: return "cosine";
  }
  return "constant";
}

LrSchedule::LrSchedule(LrSchedulerKind kind, double learning_rate, int64_t warmup_steps, int64_t total_steps)
    : kind_(kind), learning_rate_(learning_rate), warmup_steps_(warmup_steps), total_steps_(total_steps) {}

double LrSchedule::At(int64_t step) const {
  if (step < warmup_steps_) {
    return learning_rate_ * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps_));
  }
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = static_cast<double>(step - warmup_steps_) / decay_steps;
  switch (kind_) {
    case LrSchedulerKind::kConstant:
      return learning_rate_;
    case LrSchedulerKind::kLinear:
      return learning_rate_ * std::max(0.0, 1.0 - progress);
    case LrSchedulerKind::kCosine:
      return learning_rate_ * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
  }
  return learning_rate_;
}

}  // namespace dpo
