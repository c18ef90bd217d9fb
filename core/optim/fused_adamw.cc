// FusedAdamW: the per-parameter state of torch::optim::AdamW, updated by _fused_adamw_.
#include "core/optim/fused_adamw.h"

#include <torch/torch.h>

#include <map>
#include <tuple>

#include "core/common/error.h"

namespace dpo {
namespace {

using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

// The tensors of one _fused_adamw_ call: parameters of one device and dtype.
struct KernelGroup {
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;
};

}  // namespace

FusedAdamW::FusedAdamW(std::vector<at::Tensor> params, AdamWOptions options)
    : torch::optim::AdamW(std::move(params), std::move(options)) {}

FusedAdamW::FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, AdamWOptions defaults)
    : torch::optim::AdamW(std::move(groups), std::move(defaults)) {}

at::Tensor FusedAdamW::step(LossClosure closure) {
  if (closure != nullptr) throw InvalidInput("FusedAdamW::step takes no closure");
  const torch::NoGradGuard no_grad;
  std::vector<at::Tensor> counters_to_advance;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    auto& group = param_groups_[g];
    const auto& options = static_cast<const AdamWOptions&>(group.options());
    std::map<std::tuple<int, int, int>, KernelGroup> kernel_groups;  // (device type, index, dtype)
    for (size_t i = 0; i < group.params().size(); ++i) {
      auto& param = group.params()[i];
      if (!param.grad().defined()) continue;
      if (param.grad().is_sparse()) {
        throw InvalidInput("AdamW: parameter " + std::to_string(i) + " of group " + std::to_string(g) +
                           " has a sparse gradient; AdamW takes dense gradients only");
      }
      const void* key = param.unsafeGetTensorImpl();
      auto found = state_.find(const_cast<void*>(key));
      if (found == state_.end()) {
        auto fresh = std::make_unique<AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(param, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(param, at::MemoryFormat::Preserve));
        if (options.amsgrad()) fresh->max_exp_avg_sq(torch::zeros_like(param, at::MemoryFormat::Preserve));
        found = state_.emplace(const_cast<void*>(key), std::move(fresh)).first;
      }
      auto& state = static_cast<AdamWParamState&>(*found->second);
      state.step(state.step() + 1);

      StepCounter& counter = step_counters_[key];
      if (!counter.tensor.defined() || counter.tensor.device() != param.device()) {
        counter.tensor = torch::zeros({}, torch::dtype(torch::kFloat).device(param.device()));
        counter.value = 0;
      }
      if (counter.value == state.step() - 1) {
        counters_to_advance.push_back(counter.tensor);
      } else {
        counter.tensor.fill_(static_cast<double>(state.step()));
      }
      counter.value = state.step();

      KernelGroup& kernel_group = kernel_groups[{static_cast<int>(param.device().type()), param.device().index(),
                                                  static_cast<int>(param.scalar_type())}];
      kernel_group.params.push_back(param);
      kernel_group.grads.push_back(param.grad());
      kernel_group.exp_avgs.push_back(state.exp_avg());
      kernel_group.exp_avg_sqs.push_back(state.exp_avg_sq());
      if (options.amsgrad()) kernel_group.max_exp_avg_sqs.push_back(state.max_exp_avg_sq());
      kernel_group.steps.push_back(counter.tensor);
    }
    if (!counters_to_advance.empty()) {
      at::_foreach_add_(counters_to_advance, 1.0);
      counters_to_advance.clear();
    }
    const auto [beta1, beta2] = options.betas();
    for (auto& [device_and_dtype, tensors] : kernel_groups) {
      (void)device_and_dtype;
      at::_fused_adamw_(tensors.params, tensors.grads, tensors.exp_avgs, tensors.exp_avg_sqs, tensors.max_exp_avg_sqs,
                        tensors.steps, options.lr(), beta1, beta2, options.weight_decay(), options.eps(),
                        options.amsgrad(), /*maximize=*/false);
    }
  }
  return {};
}

}  // namespace dpo
