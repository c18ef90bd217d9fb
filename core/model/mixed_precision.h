// bf16 autocast on CUDA for the forward passes of a training step (matmuls in bfloat16,
// reductions, softmax and the loss in float32; parameters, gradients and optimizer state stay
// float32). A no-op guard when disabled.
#pragma once

namespace dpo {

// RAII: enables CUDA autocast with dtype bfloat16 for its lifetime and restores the previous
// state (and clears autocast's weight cache) when destroyed. Thread safety: autocast state is
// thread-local; use on the training thread.
class BfloatAutocastGuard {
 public:
  explicit BfloatAutocastGuard(bool enabled);
  ~BfloatAutocastGuard();
  BfloatAutocastGuard(const BfloatAutocastGuard&) = delete;
  BfloatAutocastGuard& operator=(const BfloatAutocastGuard&) = delete;

 private:
  bool enabled_;
  bool previous_enabled_ = false;
};

}  // namespace dpo
