// ModelConfig: family defaults, derived sizes and validation. The config.json mapping is in
// hf_config_json.cc.
#include "core/model/model_config.h"

#include <algorithm>
#include <cmath>

#include "core/model/hf_config_fields.h"

namespace dpo {
namespace {

const std::vector<std::string> kLlamaFamilyTypes = {"llama", "mistral", "qwen2"};

bool IsLlamaFamily(const std::string& model_type) {
  return std::find(kLlamaFamilyTypes.begin(), kLlamaFamilyTypes.end(), model_type) != kLlamaFamilyTypes.end();
}

std::string Number(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

ModelConfig ModelConfig::Defaults(const std::string& model_type) {
  ModelConfig config;  // GPT2Config's defaults
  if (!IsLlamaFamily(model_type)) {
    config.model_type = model_type;
    return config;
  }
  // LlamaConfig's defaults, then what MistralConfig and Qwen2Config change.
  config.model_type = model_type;
  config.vocab_size = 32000;
  config.max_positions = 2048;
  config.hidden_size = 4096;
  config.num_layers = 32;
  config.num_heads = 32;
  config.intermediate_size = 11008;
  config.activation = "silu";
  config.norm_epsilon = 1e-6;
  config.bos_token_id = 1;
  config.eos_token_id = 2;
  config.tie_word_embeddings = false;
  if (model_type == "mistral") {
    config.intermediate_size = 14336;
    config.num_kv_heads = 8;
    config.max_positions = 4096 * 32;
    config.sliding_window = 4096;
  } else if (model_type == "qwen2") {
    config.vocab_size = 151936;
    config.intermediate_size = 22016;
    config.max_positions = 32768;
    config.qkv_bias = true;
    config.bos_token_id = -1;
    config.eos_token_id = -1;
  }
  return config;
}

ModelFamily ModelConfig::family() const { return IsLlamaFamily(model_type) ? ModelFamily::kLlama : ModelFamily::kGpt2; }

std::string ModelConfig::FieldName(const std::string& generic_name) const {
  return hf_config::NameOf(generic_name, family());
}

int64_t ModelConfig::NumParameters() const {
  const int64_t h = hidden_size, inner = InnerSize();
  const int64_t embeddings = vocab_size * h + (tie_word_embeddings ? 0 : vocab_size * h);
  if (family() == ModelFamily::kGpt2) {
    const int64_t per_block = 2 * 2 * h                                     // two LayerNorms
                              + h * 3 * h + 3 * h + h * h + h                // attention
                              + h * inner + inner + inner * h + h;           // MLP
    return embeddings + max_positions * h + num_layers * per_block + 2 * h;  // + positions, final norm
  }
  const int64_t q = num_heads * HeadSize(), kv = KvHeads() * HeadSize();
  const int64_t attention = h * q + 2 * h * kv + q * h + (qkv_bias ? q + 2 * kv : 0) + (output_bias ? h : 0);
  const int64_t mlp = 3 * h * inner + (mlp_bias ? 2 * inner + h : 0);
  return embeddings + num_layers * (2 * h + attention + mlp) + h;
}

std::vector<std::string> ModelConfig::Validate() const {
  std::vector<std::string> problems;
  auto name = [&](const char* generic) { return "model." + FieldName(generic); };
  auto positive = [&](const char* generic, int64_t value) {
    if (value <= 0) problems.push_back(name(generic) + "=" + std::to_string(value) + " must be > 0");
  };
  if (model_type != "gpt2" && !IsLlamaFamily(model_type)) {
    problems.push_back("model.model_type=\"" + model_type + "\" is not supported (supported: gpt2, llama, mistral, qwen2)");
  }
  const bool llama = family() == ModelFamily::kLlama;
  positive("vocab_size", vocab_size);
  positive("max_positions", max_positions);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  positive("num_heads", num_heads);
  if (intermediate_size < 0 || (llama && intermediate_size == 0)) {
    problems.push_back(name("intermediate_size") + "=" + std::to_string(intermediate_size) + " must be " +
                       (llama ? "> 0" : ">= 0 (0 or null: 4 * n_embd)"));
  }
  if (num_kv_heads < 0) problems.push_back(name("num_kv_heads") + "=" + std::to_string(num_kv_heads) + " must be >= 0");
  if (head_dim < 0) problems.push_back(name("head_dim") + "=" + std::to_string(head_dim) + " must be >= 0");
  if (hidden_size > 0 && num_heads > 0 && head_dim == 0 && hidden_size % num_heads != 0) {
    problems.push_back(name("hidden_size") + "=" + std::to_string(hidden_size) + " must be divisible by " +
                       name("num_heads") + "=" + std::to_string(num_heads));
  }
  if (num_heads > 0 && num_kv_heads > 0 && num_heads % num_kv_heads != 0) {
    problems.push_back(name("num_heads") + "=" + std::to_string(num_heads) + " must be a multiple of " +
                       name("num_kv_heads") + "=" + std::to_string(num_kv_heads));
  }
  if (llama && num_heads > 0 && hidden_size > 0 && HeadSize() % 2 != 0) {
    problems.push_back("the head size " + std::to_string(HeadSize()) + " must be even (rotary embeddings rotate pairs)");
  }
  if (!llama) {
    static const std::vector<std::string> kActivations = {"gelu_new", "gelu_pytorch_tanh", "gelu", "relu"};
    if (std::find(kActivations.begin(), kActivations.end(), activation) == kActivations.end()) {
      problems.push_back(name("activation") + "=\"" + activation +
                         "\" is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu, relu)");
    }
    if (!tie_word_embeddings) problems.push_back("model.tie_word_embeddings=false is not supported for gpt2");
  } else if (activation != "silu") {
    problems.push_back(name("activation") + "=\"" + activation + "\" is not supported (supported: silu)");
  }
  if (!(norm_epsilon > 0)) problems.push_back(name("norm_epsilon") + " must be > 0");
  if (!(initializer_range > 0)) problems.push_back(name("initializer_range") + " must be > 0");
  for (const auto& [generic, p] : {std::pair{"embd_pdrop", embd_pdrop}, {"attn_pdrop", attn_pdrop}, {"resid_pdrop", resid_pdrop}}) {
    if (!(p >= 0 && p < 1)) problems.push_back(name(generic) + "=" + Number(p) + " must be in [0, 1)");
  }
  for (const auto& [field, id] : {std::pair{"bos_token_id", bos_token_id}, {"eos_token_id", eos_token_id}}) {
    if (id < -1 || id >= vocab_size) {
      problems.push_back("model." + std::string(field) + "=" + std::to_string(id) + " is outside the vocabulary [0, " +
                         std::to_string(vocab_size) + ")");
    }
  }
  if (llama) {
    if (!(rope_theta > 0)) problems.push_back("model.rope_theta=" + Number(rope_theta) + " must be > 0");
    if (sliding_window < 0) problems.push_back("model.sliding_window=" + std::to_string(sliding_window) + " must be >= 0");
    const RopeScaling& s = rope_scaling;
    if (s.rope_type != "default" && !(s.factor >= 1)) {
      problems.push_back("model.rope_scaling.factor=" + Number(s.factor) + " must be >= 1");
    }
    if (s.rope_type == "llama3") {
      if (!(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor)) {
        problems.push_back("model.rope_scaling: low_freq_factor=" + Number(s.low_freq_factor) +
                           " and high_freq_factor=" + Number(s.high_freq_factor) + " must satisfy 0 < low < high");
      }
      if (s.original_max_position_embeddings <= 0) {
        problems.push_back("model.rope_scaling.original_max_position_embeddings=" +
                           std::to_string(s.original_max_position_embeddings) + " must be > 0");
      }
    }
  }
  return problems;
}

}  // namespace dpo
