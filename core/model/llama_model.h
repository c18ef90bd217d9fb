// Llama-family causal LM (llama, mistral, qwen2): RMSNorm, rotary positions, SwiGLU MLP,
// grouped-query attention, optional q/k/v/o and MLP biases, tied or separate LM head. Modules
// and parameters carry transformers' names (model.layers.<i>.self_attn.q_proj, ...).
#pragma once

#include <memory>

#include "core/model/causal_lm.h"

namespace dpo {

std::shared_ptr<CausalLm> CreateLlamaModel(const ModelConfig& config, uint64_t seed);

}  // namespace dpo
