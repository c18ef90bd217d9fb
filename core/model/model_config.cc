// ModelConfig <-> HF config.json, and its validation.
#include "core/model/model_config.h"

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace {

template <typename T>
void ReadField(const nlohmann::json& json, const char* key, T& value, const std::string& source) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) return;
  try {
    value = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InvalidInput(source + ": field \"" + key + "\": expected " +
                       (std::is_same_v<T, std::string> ? "a string"
                        : std::is_same_v<T, bool>      ? "a boolean"
                                                       : "a number") +
                       ", found " + it->type_name());
  }
}

}  // namespace

int64_t ModelConfig::NumParameters() const {
  const int64_t h = n_embd;
  const int64_t per_block = 2 * 2 * h                       // two LayerNorms
                            + h * 3 * h + 3 * h + h * h + h  // attention
                            + h * InnerSize() + InnerSize() + InnerSize() * h + h;  // MLP
  const int64_t head = tie_word_embeddings ? 0 : vocab_size * h;
  return vocab_size * h + n_positions * h + n_layer * per_block + 2 * h + head;
}

std::vector<std::string> ModelConfig::Validate() const {
  std::vector<std::string> problems;
  auto positive = [&](const char* name, int64_t value) {
    if (value <= 0) problems.push_back("model." + std::string(name) + "=" + std::to_string(value) + " must be > 0");
  };
  if (model_type != "gpt2") {
    problems.push_back("model.model_type=\"" + model_type + "\" is not supported (supported: gpt2)");
  }
  positive("vocab_size", vocab_size);
  positive("n_positions", n_positions);
  positive("n_embd", n_embd);
  positive("n_layer", n_layer);
  positive("n_head", n_head);
  if (n_inner < 0) problems.push_back("model.n_inner=" + std::to_string(n_inner) + " must be >= 0");
  if (n_embd > 0 && n_head > 0 && n_embd % n_head != 0) {
    problems.push_back("model.n_embd=" + std::to_string(n_embd) + " must be divisible by model.n_head=" +
                       std::to_string(n_head));
  }
  static const std::vector<std::string> kActivations = {"gelu_new", "gelu_pytorch_tanh", "gelu", "relu"};
  if (std::find(kActivations.begin(), kActivations.end(), activation_function) == kActivations.end()) {
    problems.push_back("model.activation_function=\"" + activation_function +
                       "\" is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu, relu)");
  }
  if (!(layer_norm_epsilon > 0)) problems.push_back("model.layer_norm_epsilon must be > 0");
  if (!(initializer_range > 0)) problems.push_back("model.initializer_range must be > 0");
  for (const auto& [name, p] : {std::pair{"embd_pdrop", embd_pdrop}, {"attn_pdrop", attn_pdrop}, {"resid_pdrop", resid_pdrop}}) {
    if (!(p >= 0 && p < 1)) problems.push_back("model." + std::string(name) + "=" + std::to_string(p) + " must be in [0, 1)");
  }
  for (const auto& [name, id] : {std::pair{"bos_token_id", bos_token_id}, {"eos_token_id", eos_token_id}}) {
    if (id < 0 || id >= vocab_size) {
      problems.push_back("model." + std::string(name) + "=" + std::to_string(id) + " is outside the vocabulary [0, " +
                         std::to_string(vocab_size) + ")");
    }
  }
  if (!tie_word_embeddings) problems.push_back("model.tie_word_embeddings=false is not supported for gpt2");
  return problems;
}

nlohmann::json ModelConfig::ToHfJson() const {
  nlohmann::json json;
  json["model_type"] = model_type;
  json["architectures"] = {"GPT2LMHeadModel"};
  json["vocab_size"] = vocab_size;
  json["n_positions"] = n_positions;
  json["n_ctx"] = n_positions;
  json["n_embd"] = n_embd;
  json["n_layer"] = n_layer;
  json["n_head"] = n_head;
  json["n_inner"] = n_inner > 0 ? nlohmann::json(n_inner) : nlohmann::json(nullptr);
  json["activation_function"] = activation_function;
  json["layer_norm_epsilon"] = layer_norm_epsilon;
  json["initializer_range"] = initializer_range;
  json["embd_pdrop"] = embd_pdrop;
  json["attn_pdrop"] = attn_pdrop;
  json["resid_pdrop"] = resid_pdrop;
  json["bos_token_id"] = bos_token_id;
  json["eos_token_id"] = eos_token_id;
  json["tie_word_embeddings"] = tie_word_embeddings;
  json["torch_dtype"] = "float32";
  return json;
}

std::string ModelConfig::ToHfJsonText() const { return ToHfJson().dump(2) + "\n"; }

ModelConfig ModelConfig::FromHfJson(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw InvalidInput(source + ": expected a JSON object, found " + json.type_name());
  ModelConfig config;
  ReadField(json, "model_type", config.model_type, source);
  ReadField(json, "vocab_size", config.vocab_size, source);
  ReadField(json, "n_positions", config.n_positions, source);
  ReadField(json, "n_embd", config.n_embd, source);
  ReadField(json, "n_layer", config.n_layer, source);
  ReadField(json, "n_head", config.n_head, source);
  ReadField(json, "n_inner", config.n_inner, source);
  ReadField(json, "activation_function", config.activation_function, source);
  ReadField(json, "layer_norm_epsilon", config.layer_norm_epsilon, source);
  ReadField(json, "initializer_range", config.initializer_range, source);
  ReadField(json, "embd_pdrop", config.embd_pdrop, source);
  ReadField(json, "attn_pdrop", config.attn_pdrop, source);
  ReadField(json, "resid_pdrop", config.resid_pdrop, source);
  ReadField(json, "bos_token_id", config.bos_token_id, source);
  ReadField(json, "eos_token_id", config.eos_token_id, source);
  ReadField(json, "tie_word_embeddings", config.tie_word_embeddings, source);
  const std::vector<std::string> problems = config.Validate();
  if (!problems.empty()) {
    std::string message = source + ": invalid model config:";
    for (const auto& problem : problems) message += "\n  " + problem;
    throw InvalidInput(message);
  }
  return config;
}

ModelConfig ModelConfig::Load(const std::string& config_json_path) {
  const std::string text = ReadFile(config_json_path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(config_json_path + ": invalid JSON: " + e.what());
  }
  return FromHfJson(json, config_json_path);
}

void ModelConfig::Save(const std::string& config_json_path) const {
  WriteFileAtomically(config_json_path, ToHfJsonText());
}

}  // namespace dpo
