// The in-process frozen reference model.
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

LocalReferenceScorer::LocalReferenceScorer(std::shared_ptr<CausalLm> model, std::string fingerprint,
                                           LogProbOptions options)
    : model_(std::move(model)), fingerprint_(std::move(fingerprint)), options_(options) {
  model_->module().eval();
  for (auto& parameter : model_->module().parameters()) parameter.set_requires_grad(false);
}

at::Tensor LocalReferenceScorer::Score(const SequenceBatch& batch) {
  torch::NoGradGuard no_grad;
  const c10::Device device = model_->module().parameters().front().device();
  return ComputeSequenceLogProbs(*model_, batch.input_ids.to(device), batch.completion_mask.to(device), options_)
      .sum_log_probs;
}

}  // namespace dpo
