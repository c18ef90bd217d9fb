// GPT-2 family causal LM: learned positions, pre-LayerNorm blocks, GELU MLP, tied LM head.
// Parameters are stored in HF's layout (Conv1D weights [in, out]) under HF's names.
#pragma once

#include <memory>

#include "core/model/causal_lm.h"

namespace dpo {

std::shared_ptr<CausalLm> CreateGpt2Model(const ModelConfig& config, uint64_t seed);

}  // namespace dpo
