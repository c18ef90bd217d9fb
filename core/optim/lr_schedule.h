// Learning-rate schedules with linear warm-up, as HF transformers defines them (the trainer's
// users compare curves with TRL runs): for optimizer update k = 0 .. total-1,
//   warm-up (k < W): lr * k / W
//   constant: lr;  linear: lr * (T - k) / (T - W);  cosine: lr * 0.5 (1 + cos(pi (k - W) / (T - W))).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

enum class LrSchedulerKind { kConstant, kLinear, kCosine };

// Throws Error(kInvalidInput) naming training.lr_scheduler and the supported names.
LrSchedulerKind ParseLrScheduler(std::string_view name);
const char* LrSchedulerName(LrSchedulerKind kind);

class LrSchedule {
 public:
  LrSchedule(LrSchedulerKind kind, double learning_rate, int64_t warmup_steps, int64_t total_steps);
  // The learning rate of optimizer update `step` (0-based).
  double At(int64_t step) const;

 private:
  LrSchedulerKind kind_;
  double learning_rate_;
  int64_t warmup_steps_;
  int64_t total_steps_;
};

}  // namespace dpo
