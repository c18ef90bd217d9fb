// Which parameters weight decay applies to: the rule of the HF Trainer (and so of TRL), which
// exempts biases and normalisation weights. For the supported families those are exactly the
// one-dimensional parameters, so the rule here is by shape: two or more dimensions (matrices,
// embeddings) decay, one dimension does not.
#pragma once

#include <torch/optim/adamw.h>

#include <vector>

namespace dpo {

// True for the parameters weight decay applies to (two or more dimensions).
bool DecaysWeight(const at::Tensor& parameter);

// AdamW parameter groups for `parameters`: with options.weight_decay() > 0, the decayed
// parameters (ndim >= 2) then the exempt ones (ndim < 2, weight_decay 0), each group with
// `options` otherwise; an empty group is left out. With weight_decay 0 there is nothing to
// split: one group, the layout of the optimizer state before this rule.
std::vector<torch::optim::OptimizerParamGroup> WeightDecayGroups(const std::vector<at::Tensor>& parameters,
                                                                 const torch::optim::AdamWOptions& options);

}  // namespace dpo
