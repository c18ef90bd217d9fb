#include "core/optim/weight_decay_groups.h"

#include <memory>

namespace dpo {

bool DecaysWeight(const at::Tensor& parameter) { return parameter.dim() >= 2; }

std::vector<torch::optim::OptimizerParamGroup> WeightDecayGroups(const std::vector<at::Tensor>& parameters,
                                                                 const torch::optim::AdamWOptions& options) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (options.weight_decay() == 0) {
    groups.emplace_back(parameters, std::make_unique<torch::optim::AdamWOptions>(options));
    return groups;
  }
  std::vector<at::Tensor> decayed, exempt;
  for (const at::Tensor& parameter : parameters) (DecaysWeight(parameter) ? decayed : exempt).push_back(parameter);
  torch::optim::AdamWOptions no_decay = options;
  no_decay.weight_decay(0);
  if (!decayed.empty()) groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(options));
  if (!exempt.empty()) groups.emplace_back(exempt, std::make_unique<torch::optim::AdamWOptions>(no_decay));
  return groups;
}

}  // namespace dpo
