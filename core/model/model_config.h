// ModelConfig: the architecture of a causal LM of one of the supported families, read from and
// written to HF `config.json` with the field names of that family, so checkpoints interoperate
// with transformers and vLLM.
//
// Families and their config.json names (HF GPT2Config / LlamaConfig, MistralConfig, Qwen2Config):
//   ModelConfig         gpt2                  llama, mistral, qwen2
//   max_positions       n_positions           max_position_embeddings
//   hidden_size         n_embd                hidden_size
//   num_layers          n_layer               num_hidden_layers
//   num_heads           n_head                num_attention_heads
//   intermediate_size   n_inner               intermediate_size
//   activation          activation_function   hidden_act
//   norm_epsilon        layer_norm_epsilon    rms_norm_eps
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dpo {

enum class ModelFamily {
  kGpt2,   // learned positions, pre-LayerNorm, GELU MLP, fused QKV Conv1D, tied LM head
  kLlama,  // RoPE, RMSNorm, SwiGLU MLP, grouped-query attention (llama, mistral, qwen2)
};

// HF `rope_scaling` (Llama family). rope_type "default" means none.
struct RopeScaling {
  std::string rope_type = "default";  // default, linear, llama3
  double factor = 1.0;                // linear, llama3
  double low_freq_factor = 1.0;       // llama3
  double high_freq_factor = 4.0;      // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  // gpt2, llama, mistral or qwen2. Defaults of every field are those of HF's config class of
  // the family (see Defaults), used for fields a config.json leaves out.
  std::string model_type = "gpt2";
  int64_t vocab_size = 50257;
  int64_t max_positions = 1024;
  int64_t hidden_size = 768;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t num_kv_heads = 0;       // num_key_value_heads (Llama family); 0 means num_heads
  int64_t head_dim = 0;           // head_dim (Llama family); 0 means hidden_size / num_heads
  int64_t intermediate_size = 0;  // MLP width; GPT-2's 0 (null) means 4 * hidden_size
  std::string activation = "gelu_new";
  double norm_epsilon = 1e-5;
  double initializer_range = 0.02;
  // Dropout defaults to 0: DPO compares policy and reference log-probs, and dropout noise
  // would bias both (TRL disables it by default for the same reason). Llama family: only
  // attn_pdrop exists there (attention_dropout).
  double embd_pdrop = 0.0;
  double attn_pdrop = 0.0;
  double resid_pdrop = 0.0;
  int64_t bos_token_id = 50256;  // -1: none
  int64_t eos_token_id = 50256;  // -1: none; the first id when config.json lists several
  bool tie_word_embeddings = true;
  // Llama family only.
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool qkv_bias = false;     // q/k/v projections have biases (qwen2 always; llama attention_bias)
  bool output_bias = false;  // o_proj has a bias (llama attention_bias)
  bool mlp_bias = false;     // gate/up/down projections have biases (llama mlp_bias)
  int64_t sliding_window = 0;  // mistral: keys attended per query; 0 = unlimited
  // The dtype named by config.json's torch_dtype; SaveModelDirectory writes the dtype it stores.
  std::string torch_dtype = "float32";
  // Fields of the original config.json that do not change the computation (e.g.
  // "transformers_version", "pad_token_id", a list of eos ids), written back unchanged:
  // key -> JSON text.
  std::map<std::string, std::string> passthrough;

  // HF's defaults for `model_type` (an unsupported type gets GPT-2's; Validate reports it).
  static ModelConfig Defaults(const std::string& model_type);

  ModelFamily family() const;
  int64_t InnerSize() const { return intermediate_size > 0 ? intermediate_size : 4 * hidden_size; }
  int64_t HeadSize() const { return head_dim > 0 ? head_dim : hidden_size / num_heads; }
  int64_t KvHeads() const { return num_kv_heads > 0 ? num_kv_heads : num_heads; }
  // Number of trainable parameters (tied embeddings counted once).
  int64_t NumParameters() const;

  // Every problem at once, each naming the field by its config.json name, its value and the limit.
  std::vector<std::string> Validate() const;

  // The config.json name of a field in this config's family (e.g. "n_embd" or "hidden_size").
  std::string FieldName(const std::string& generic_name) const;

  nlohmann::json ToHfJson() const;
  // ToHfJson() as the text written to config.json (stable: keys sorted, 2-space indent).
  std::string ToHfJsonText() const;

  enum class UnknownFields {
    kKeep,    // config.json: kept in `passthrough` and written back
    kReject,  // a job file: each one is a problem naming the fields the family knows
  };
  // Reads the fields of `json` (the family from "model_type", else "architectures"), appending
  // type errors, unsupported values and (kReject) unknown fields to `problems`, each prefixed
  // with `prefix`. Does not Validate.
  static ModelConfig ParseHfJson(const nlohmann::json& json, UnknownFields unknown, const std::string& prefix,
                                 std::vector<std::string>* problems);
  // ParseHfJson + Validate; throws Error(kInvalidInput) naming `source` and every problem.
  static ModelConfig FromHfJson(const nlohmann::json& json, const std::string& source);
  static ModelConfig Load(const std::string& config_json_path);
  void Save(const std::string& config_json_path) const;
};

}  // namespace dpo
