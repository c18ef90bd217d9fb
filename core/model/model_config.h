// ModelConfig: the architecture of a causal LM, read from and written to HF `config.json`
// with HF's field names, so checkpoints interoperate with transformers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dpo {

struct ModelConfig {
  std::string model_type = "gpt2";
  int64_t vocab_size = 259;   // the byte tokenizer's vocabulary
  int64_t n_positions = 1024; // maximum sequence length (learned positions)
  int64_t n_embd = 256;
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_inner = 0;        // MLP width; 0 means 4 * n_embd (HF's null)
  std::string activation_function = "gelu_new";
  double layer_norm_epsilon = 1e-5;
  double initializer_range = 0.02;
  // Dropout defaults to 0: DPO compares policy and reference log-probs, and dropout noise
  // would bias both (TRL disables it by default for the same reason).
  double embd_pdrop = 0.0;
  double attn_pdrop = 0.0;
  double resid_pdrop = 0.0;
  int64_t bos_token_id = 256;
  int64_t eos_token_id = 257;
  bool tie_word_embeddings = true;

  int64_t InnerSize() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  int64_t HeadSize() const { return n_embd / n_head; }
  // Number of trainable parameters (tied embeddings counted once).
  int64_t NumParameters() const;

  // Every problem at once, each naming the field, its value and the limit.
  std::vector<std::string> Validate() const;

  nlohmann::json ToHfJson() const;
  // ToHfJson() as the text written to config.json (stable: keys sorted, 2-space indent).
  std::string ToHfJsonText() const;
  // `source` names the file in error messages. Unknown fields are ignored (HF configs carry
  // many we do not use); a wrong type or an unsupported model_type is an error.
  static ModelConfig FromHfJson(const nlohmann::json& json, const std::string& source);
  static ModelConfig Load(const std::string& config_json_path);
  void Save(const std::string& config_json_path) const;
};

}  // namespace dpo
