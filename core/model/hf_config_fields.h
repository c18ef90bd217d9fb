// The table that maps ModelConfig fields to config.json names per family; shared by the JSON
// reader/writer (hf_config_json.cc) and the validation messages (model_config.cc). Private to
// core/model.
#pragma once

#include <cstdint>
#include <string>

#include "core/model/model_config.h"

namespace dpo::hf_config {

// One plain config.json field: its ModelConfig name, its name in each family (nullptr where the
// family has no such field) and its member.
template <typename T>
struct Field {
  const char* generic;
  const char* gpt2;
  const char* llama;
  T ModelConfig::*member;

  const char* NameIn(ModelFamily family) const { return family == ModelFamily::kGpt2 ? gpt2 : llama; }
};

inline constexpr Field<int64_t> kIntFields[] = {
    {"vocab_size", "vocab_size", "vocab_size", &ModelConfig::vocab_size},
    {"max_positions", "n_positions", "max_position_embeddings", &ModelConfig::max_positions},
    {"hidden_size", "n_embd", "hidden_size", &ModelConfig::hidden_size},
    {"num_layers", "n_layer", "num_hidden_layers", &ModelConfig::num_layers},
    {"num_heads", "n_head", "num_attention_heads", &ModelConfig::num_heads},
    {"num_kv_heads", nullptr, "num_key_value_heads", &ModelConfig::num_kv_heads},
    {"head_dim", nullptr, "head_dim", &ModelConfig::head_dim},
    {"intermediate_size", "n_inner", "intermediate_size", &ModelConfig::intermediate_size},
};

inline constexpr Field<double> kDoubleFields[] = {
    {"norm_epsilon", "layer_norm_epsilon", "rms_norm_eps", &ModelConfig::norm_epsilon},
    {"initializer_range", "initializer_range", "initializer_range", &ModelConfig::initializer_range},
    {"embd_pdrop", "embd_pdrop", nullptr, &ModelConfig::embd_pdrop},
    {"attn_pdrop", "attn_pdrop", "attention_dropout", &ModelConfig::attn_pdrop},
    {"resid_pdrop", "resid_pdrop", nullptr, &ModelConfig::resid_pdrop},
    {"rope_theta", nullptr, "rope_theta", &ModelConfig::rope_theta},
};

inline constexpr Field<std::string> kStringFields[] = {
    {"activation", "activation_function", "hidden_act", &ModelConfig::activation},
};

inline constexpr Field<bool> kBoolFields[] = {
    {"tie_word_embeddings", "tie_word_embeddings", "tie_word_embeddings", &ModelConfig::tie_word_embeddings},
};

// The name of `generic` (a ModelConfig field name) in `family`'s config.json; `generic` itself
// when the table has no entry (fields named alike in every family, e.g. "bos_token_id").
inline std::string NameOf(const std::string& generic, ModelFamily family) {
  auto find = [&](const auto& table) -> const char* {
    for (const auto& field : table) {
      if (generic == field.generic && field.NameIn(family) != nullptr) return field.NameIn(family);
    }
    return nullptr;
  };
  for (const char* name : {find(kIntFields), find(kDoubleFields), find(kStringFields), find(kBoolFields)}) {
    if (name != nullptr) return name;
  }
  return generic;
}

}  // namespace dpo::hf_config
