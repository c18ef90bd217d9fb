// Autocast for the forward passes of a training step: bf16 (matmuls in bfloat16, reductions,
// softmax and the loss in float32; parameters, gradients and optimizer state stay float32), and
// the capture/restore of autocast state that recomputation (gradient checkpointing, the fused
// log-prob backward) needs so that a recomputed forward runs in the precision of the original.
// The one place that knows LibTorch's autocast API.
#pragma once

#include <optional>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace dpo {

// This thread's autocast switches.
struct AutocastState {
  bool cuda_enabled = false;
  c10::ScalarType cuda_dtype = c10::kHalf;
  bool cpu_enabled = false;
  c10::ScalarType cpu_dtype = c10::kBFloat16;

  static AutocastState Current();
  // The dtype autocast runs matmuls in on `device_type`, or nullopt where autocast is off.
  std::optional<c10::ScalarType> ComputeDtype(c10::DeviceType device_type) const;
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

// RAII: bf16 autocast on CUDA and CPU for its lifetime when `enabled`; a no-op otherwise. (The
// trainer allows bf16 on CUDA only; CPU autocast is what lets the CPU tests check bf16 paths.)
class BfloatAutocastGuard {
 public:
  explicit BfloatAutocastGuard(bool enabled);
  BfloatAutocastGuard(const BfloatAutocastGuard&) = delete;
  BfloatAutocastGuard& operator=(const BfloatAutocastGuard&) = delete;

 private:
  std::optional<AutocastStateGuard> guard_;
};

}  // namespace dpo
