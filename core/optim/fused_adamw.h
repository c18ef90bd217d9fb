// AdamW whose update is one multi-tensor kernel per (device, dtype) group: ATen's _fused_adamw_,
// the kernel behind torch.optim.AdamW(fused=True), on CUDA and on the CPU.
//
// It is a torch::optim::AdamW: the same options, the same per-parameter state (step, exp_avg,
// exp_avg_sq, max_exp_avg_sq as AdamWParamState), so torch::save / torch::load and checkpoints
// written by the unfused optimizer read back unchanged. The math is the decoupled AdamW of
// Loshchilov & Hutter, as torch computes it:
//   p *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The unfused optimizer evaluates the same expressions in another order, so the two agree to a
// few float32 ulps per step, not bit for bit; a run and its resume use the same one.
#pragma once

#include <torch/optim/adamw.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace dpo {

class FusedAdamW : public torch::optim::AdamW {
 public:
  FusedAdamW(std::vector<at::Tensor> params, torch::optim::AdamWOptions options);
  // Groups with options of their own (e.g. WeightDecayGroups); `defaults` for groups without.
  FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults);

  // One update of every parameter that has a gradient. Throws InvalidInput for a sparse
  // gradient. Always returns an undefined tensor (no closure).
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  // The kernel reads the step count t from a float32 tensor on the parameter's device. One per
  // parameter, with the count it holds, so the common case (t + 1) is one _foreach_add_ and
  // no host-device transfer; a count changed by load() is written afresh.
  struct StepCounter {
    int64_t value = -1;
    at::Tensor tensor;  // (), float32, on the parameter's device
  };
  std::unordered_map<const void*, StepCounter> step_counters_;
};

}  // namespace dpo
