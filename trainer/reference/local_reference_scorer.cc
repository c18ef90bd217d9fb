// The in-process frozen reference model.
#include <torch/torch.h>

#include "core/common/sha256.h"
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
  return ComputeSequenceLogProbs(*model_, batch.input_ids, batch.completion_mask, options_).sum_log_probs;
}

std::string ModelFingerprint(CausalLm& model, const std::string& tokenizer_name) {
  Sha256 hash;
  const std::string config = model.config().ToHfJsonText();
  hash.Update(config);
  hash.Update(tokenizer_name);
  for (const auto& [name, tensor] : model.HfStateDict()) {
    const auto values = tensor.to(torch::kCPU, torch::kFloat).contiguous();
    hash.Update(name);
    for (const int64_t size : values.sizes()) hash.Update(&size, sizeof(size));
    hash.Update(values.data_ptr(), static_cast<size_t>(values.numel()) * sizeof(float));
  }
  return DigestToHex(hash.Finish());
}

}  // namespace dpo
