// Family dispatch, the generic full-logits path and the KV cache's row selection.
#include "core/model/causal_lm.h"

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/model/gpt2_model.h"
#include "core/model/llama_model.h"

namespace dpo {

at::Tensor CausalLm::Logits(const at::Tensor& input_ids) {
  // (N, T, H) x (V, H)^T -> (N, T, V), in float32 whatever the model's dtype.
  return torch::matmul(HiddenStates(input_ids), OutputEmbedding().t()).to(torch::kFloat);
}

void CausalLm::KvCache::SelectRows(const at::Tensor& rows) {
  for (auto& key : keys) key = key.index_select(0, rows.to(key.device()));
  for (auto& value : values) value = value.index_select(0, rows.to(value.device()));
}

std::shared_ptr<CausalLm> CreateCausalLm(const ModelConfig& config, uint64_t seed) {
  const std::vector<std::string> problems = config.Validate();
  ThrowIfProblems("invalid model config:", problems);
  return config.family() == ModelFamily::kLlama ? CreateLlamaModel(config, seed) : CreateGpt2Model(config, seed);
}

}  // namespace dpo
