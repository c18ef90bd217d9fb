// Autocast for the forward passes of a training step: bf16 on CUDA (matmuls in bfloat16,
// reductions, softmax and the loss in float32; parameters, gradients and optimizer state stay
// float32), and the capture/restore of autocast state that recomputation (gradient
// checkpointing) needs. The one place that knows the autocast API of each LibTorch version.
#pragma once

#include <optional>

#include <c10/core/ScalarType.h>

namespace dpo {

// This thread's autocast switches.
struct AutocastState {
  bool cuda_enabled = false;
  c10::ScalarType cuda_dtype = c10::kHalf;
  bool cpu_enabled = false;
  c10::ScalarType cpu_dtype = c10::kBFloat16;

  static AutocastState Current();
};

// RAII: puts this thread in `state` for its lifetime, then restores the previous state and, like
// leaving an autocast region, clears autocast's cast cache at the outermost exit. Thread safety:
// autocast state is thread-local; use on one thread.
class AutocastStateGuard {
 public:
  explicit AutocastStateGuard(const AutocastState& state);
  ~AutocastStateGuard();
  AutocastStateGuard(const AutocastStateGuard&) = delete;
  AutocastStateGuard& operator=(const AutocastStateGuard&) = delete;

 private:
  AutocastState previous_;
};

// RAII: CUDA autocast with dtype bfloat16 for its lifetime when `enabled`; a no-op otherwise.
class BfloatAutocastGuard {
 public:
  explicit BfloatAutocastGuard(bool enabled);
  BfloatAutocastGuard(const BfloatAutocastGuard&) = delete;
  BfloatAutocastGuard& operator=(const BfloatAutocastGuard&) = delete;

 private:
  std::optional<AutocastStateGuard> guard_;
};

}  // namespace dpo
