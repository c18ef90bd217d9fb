// The in-process frozen reference model.
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

LocalReferenceScorer::LocalReferenceScorer(std::shared_ptr<CausalLm> model, std::string fingerprint,
                                           LogProbOptions options)
    : model_(std::move(model)),
      fingerprint_(std::move(fingerprint)),
      options_(options),
      device_(model_->module().parameters().front().device()) {
  model_->module().eval();
  for (auto& parameter : model_->module().parameters()) parameter.set_requires_grad(false);
}

at::Tensor LocalReferenceScorer::Score(const SequenceBatch& batch) {
  torch::NoGradGuard no_grad;
  return ComputeSequenceLogProbs(*model_, batch.input_ids.to(device_), batch.completion_mask.to(device_), options_)
      .sum_log_probs;
}

}  // namespace dpo
