// ModelConfig <-> HF config.json: family selection, typed field reads with messages naming the
// field, the fields dpo-cluster refuses because it would compute something else, and the
// pass-through of fields that do not change the computation.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <type_traits>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "core/model/hf_config_fields.h"
#include "core/model/model_config.h"

namespace dpo {
namespace {

using nlohmann::json;

// model_type -> the transformers class of its causal LM.
const std::map<std::string, std::string> kCausalLmClasses = {
    {"gpt2", "GPT2LMHeadModel"}, {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"}};

std::string SupportedClasses() {
  std::string text;
  for (const auto& [type, name] : kCausalLmClasses) text += (text.empty() ? "" : ", ") + name;
  return text;
}

template <typename T>
bool HasType(const json& value) {
  if constexpr (std::is_same_v<T, bool>) return value.is_boolean();
  if constexpr (std::is_same_v<T, int64_t>) return value.is_number_integer();
  if constexpr (std::is_same_v<T, double>) return value.is_number();
  if constexpr (std::is_same_v<T, std::string>) return value.is_string();
}

template <typename T>
const char* TypeName() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_same_v<T, int64_t>) return "an integer";
  if constexpr (std::is_same_v<T, double>) return "a number";
  if constexpr (std::is_same_v<T, std::string>) return "a string";
}

// Reads config.json fields into a ModelConfig, collecting problems and remembering which keys
// it consumed.
class Reader {
 public:
  Reader(const json& object, std::string prefix, std::vector<std::string>* problems)
      : object_(object), prefix_(std::move(prefix)), problems_(problems) {}

  // The value of `key`, or nullptr when absent or null (the default stays). Marks it consumed.
  const json* Find(const std::string& key) {
    consumed_.insert(key);
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  void Problem(const std::string& key, const std::string& message) { problems_->push_back(prefix_ + key + message); }

  // Reads `key` into `value` when present and of T's JSON type; else a problem naming both.
  template <typename T>
  void Read(const std::string& key, T& value) {
    const json* found = Find(key);
    if (found == nullptr) return;
    if (HasType<T>(*found)) {
      value = found->get<T>();
    } else {
      Problem(key, std::string(": expected ") + TypeName<T>() + ", found " + found->dump());
    }
  }

  // A field that must keep its HF default, because dpo-cluster implements only that.
  void Refuse(const std::string& key, const json& supported_value) {
    const json* found = Find(key);
    if (found != nullptr && *found != supported_value) {
      Problem(key, "=" + found->dump() + " is not supported (supported: " + supported_value.dump() + ")");
    }
  }

  bool Consumed(const std::string& key) const { return consumed_.count(key) > 0; }
  const std::set<std::string>& consumed() const { return consumed_; }

 private:
  const json& object_;
  std::string prefix_;
  std::vector<std::string>* problems_;
  std::set<std::string> consumed_;
};

// "bos_token_id" / "eos_token_id": an id, null (-1), or a list of ids (the first one; the list
// itself is kept in `passthrough` so that it is written back).
void ReadTokenId(Reader& reader, const json& object, const std::string& key, int64_t& id, ModelConfig& config) {
  const json* found = reader.Find(key);
  if (found == nullptr) {
    if (object.contains(key)) id = -1;  // explicit null
    return;
  }
  if (found->is_number_integer()) {
    id = found->get<int64_t>();
  } else if (found->is_array() && !found->empty() &&
             std::all_of(found->begin(), found->end(), [](const json& v) { return v.is_number_integer(); })) {
    id = found->front().get<int64_t>();
    config.passthrough[key] = found->dump();
  } else {
    reader.Problem(key, ": expected a token id or a list of token ids, found " + found->dump());
  }
}

std::string ReadModelType(Reader& reader, const json& object, ModelConfig::UnknownFields unknown) {
  std::string model_type;
  reader.Read("model_type", model_type);
  const json* architectures = reader.Find("architectures");
  std::vector<std::string> classes;
  if (architectures != nullptr) {
    if (!architectures->is_array() ||
        !std::all_of(architectures->begin(), architectures->end(), [](const json& v) { return v.is_string(); })) {
      reader.Problem("architectures", ": expected a list of class names, found " + architectures->dump());
    } else {
      classes = architectures->get<std::vector<std::string>>();
    }
  }
  if (model_type.empty()) {
    for (const auto& [type, name] : kCausalLmClasses) {
      if (!classes.empty() && classes.front() == name) model_type = type;
    }
  }
  if (model_type.empty()) {
    if (unknown == ModelConfig::UnknownFields::kReject && !object.contains("architectures")) return "gpt2";
    reader.Problem("model_type", ": missing, and architectures " + (architectures ? architectures->dump() : "(missing)") +
                                     " names no supported causal LM (supported: " + SupportedClasses() + ")");
    return "gpt2";
  }
  const auto expected = kCausalLmClasses.find(model_type);
  if (expected != kCausalLmClasses.end()) {
    for (const auto& name : classes) {
      if (name != expected->second) {
        reader.Problem("architectures", ": \"" + name + "\" is not supported for model_type \"" + model_type +
                                            "\" (supported: " + expected->second + ")");
      }
    }
  }
  return model_type;
}

void ReadRopeScaling(Reader& reader, const char* key, RopeScaling& scaling, double* rope_theta) {
  const json* found = reader.Find(key);
  if (found == nullptr) return;
  if (!found->is_object()) return reader.Problem(key, ": expected an object or null, found " + found->dump());
  std::vector<std::string> problems;
  Reader fields(*found, "", &problems);
  if (rope_theta != nullptr) {
    if (!found->contains("rope_theta")) problems.push_back("rope_theta: missing");
    fields.Read("rope_theta", *rope_theta);
  }
  std::string type, legacy_type;
  fields.Read("rope_type", type);
  fields.Read("type", legacy_type);  // the key before transformers 4.42
  if (type.empty()) type = legacy_type;
  if (type != "default" && type != "linear" && type != "llama3") {
    return reader.Problem(key, ".rope_type=\"" + type + "\" is not supported (supported: default, linear, llama3)");
  }
  scaling.rope_type = type;
  if (type != "default") {
    if (!found->contains("factor")) problems.push_back("factor: missing");
    fields.Read("factor", scaling.factor);
  }
  if (type == "llama3") {
    for (const char* key : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      if (!found->contains(key)) problems.push_back(std::string(key) + ": missing");
    }
    fields.Read("low_freq_factor", scaling.low_freq_factor);
    fields.Read("high_freq_factor", scaling.high_freq_factor);
    fields.Read("original_max_position_embeddings", scaling.original_max_position_embeddings);
  }
  for (const auto& [key, value] : found->items()) {
    if (!fields.Consumed(key)) problems.push_back(key + ": not supported for rope_type \"" + type + "\"");
  }
  for (const auto& problem : problems) reader.Problem(key, "." + problem);
}

// Rotary settings in either layout: transformers < 5 writes `rope_theta` and `rope_scaling` (null
// or {rope_type, factor, ...}); transformers 5 writes one `rope_parameters` object holding
// rope_theta and the same scaling keys. Both at once are refused (they could disagree).
void ReadRope(Reader& reader, const json& object, ModelConfig& config) {
  const bool legacy = object.contains("rope_scaling") || object.contains("rope_theta");
  if (!object.contains("rope_parameters")) {
    return ReadRopeScaling(reader, "rope_scaling", config.rope_scaling, nullptr);  // rope_theta: the field table
  }
  if (legacy) {
    reader.Find("rope_scaling");
    reader.Find("rope_theta");
    return reader.Problem("rope_parameters", ": given together with rope_theta/rope_scaling (use one layout: "
                                             "transformers 5's rope_parameters, or the older two fields)");
  }
  ReadRopeScaling(reader, "rope_parameters", config.rope_scaling, &config.rope_theta);
}

json RopeScalingJson(const RopeScaling& scaling) {
  if (scaling.rope_type == "default") return nullptr;
  json object = {{"rope_type", scaling.rope_type}, {"factor", scaling.factor}};
  if (scaling.rope_type == "llama3") {
    object["low_freq_factor"] = scaling.low_freq_factor;
    object["high_freq_factor"] = scaling.high_freq_factor;
    object["original_max_position_embeddings"] = scaling.original_max_position_embeddings;
  }
  return object;
}

template <typename Table>
void ReadTable(Reader& reader, const Table& table, ModelFamily family, ModelConfig& config) {
  for (const auto& field : table) {
    if (field.NameIn(family) != nullptr) reader.Read(field.NameIn(family), config.*field.member);
  }
}

template <typename Table>
void WriteTable(json& object, const Table& table, ModelFamily family, const ModelConfig& config) {
  for (const auto& field : table) {
    if (field.NameIn(family) != nullptr) object[field.NameIn(family)] = config.*field.member;
  }
}

}  // namespace

ModelConfig ModelConfig::ParseHfJson(const json& object, UnknownFields unknown, const std::string& prefix,
                                     std::vector<std::string>* problems) {
  if (!object.is_object()) {
    problems->push_back(prefix + "expected a JSON object, found " + object.type_name());
    return ModelConfig();
  }
  Reader reader(object, prefix, problems);
  ModelConfig config = Defaults(ReadModelType(reader, object, unknown));
  const ModelFamily family = config.family();
  // transformers 5 writes `dtype`, earlier versions `torch_dtype`.
  reader.Read(object.contains("dtype") && !object.contains("torch_dtype") ? "dtype" : "torch_dtype", config.torch_dtype);
  ReadTable(reader, hf_config::kIntFields, family, config);
  ReadTable(reader, hf_config::kDoubleFields, family, config);
  ReadTable(reader, hf_config::kStringFields, family, config);
  ReadTable(reader, hf_config::kBoolFields, family, config);
  ReadTokenId(reader, object, "bos_token_id", config.bos_token_id, config);
  ReadTokenId(reader, object, "eos_token_id", config.eos_token_id, config);
  if (family == ModelFamily::kGpt2) {
    reader.Find("n_ctx");  // always n_positions; written back from it
    reader.Refuse("scale_attn_by_inverse_layer_idx", false);
    reader.Refuse("add_cross_attention", false);
  } else {
    ReadRope(reader, object, config);
    if (config.model_type == "llama") {
      bool attention_bias = false;
      reader.Read("attention_bias", attention_bias);
      config.qkv_bias = config.output_bias = attention_bias;
      reader.Read("mlp_bias", config.mlp_bias);
    } else if (config.model_type == "mistral") {
      config.sliding_window = 0;
      reader.Read("sliding_window", config.sliding_window);
    } else if (config.model_type == "qwen2") {
      reader.Refuse("use_sliding_window", false);
    }
  }
  for (const auto& [key, value] : object.items()) {
    if (reader.Consumed(key)) continue;
    if (unknown == UnknownFields::kKeep) {
      config.passthrough[key] = value.dump();
    } else {
      std::string known;
      for (const auto& name : reader.consumed()) known += (known.empty() ? "" : ", ") + name;
      problems->push_back(prefix + key + ": unknown field for model_type " + config.model_type + " (known: " + known + ")");
    }
  }
  return config;
}

ModelConfig ModelConfig::FromHfJson(const json& object, const std::string& source) {
  std::vector<std::string> problems;
  const ModelConfig config = ParseHfJson(object, UnknownFields::kKeep, "model.", &problems);
  if (problems.empty()) problems = config.Validate();
  ThrowIfProblems(source + ": invalid model config:", problems);
  return config;
}

json ModelConfig::ToHfJson() const {
  json object = json::object();
  for (const auto& [key, text] : passthrough) object[key] = json::parse(text);
  const ModelFamily family = this->family();
  object["model_type"] = model_type;
  const auto causal_lm_class = kCausalLmClasses.find(model_type);
  if (causal_lm_class != kCausalLmClasses.end()) object["architectures"] = {causal_lm_class->second};
  object["torch_dtype"] = torch_dtype;
  WriteTable(object, hf_config::kIntFields, family, *this);
  WriteTable(object, hf_config::kDoubleFields, family, *this);
  WriteTable(object, hf_config::kStringFields, family, *this);
  WriteTable(object, hf_config::kBoolFields, family, *this);
  for (const auto& [key, id] : {std::pair{"bos_token_id", bos_token_id}, {"eos_token_id", eos_token_id}}) {
    if (passthrough.count(key) == 0) object[key] = id >= 0 ? json(id) : json(nullptr);
  }
  if (family == ModelFamily::kGpt2) {
    object["n_ctx"] = max_positions;
    if (intermediate_size == 0) object["n_inner"] = nullptr;
    return object;
  }
  if (num_kv_heads == 0) object["num_key_value_heads"] = num_heads;
  if (head_dim == 0) object.erase("head_dim");
  object["rope_scaling"] = RopeScalingJson(rope_scaling);
  if (model_type == "llama") {
    object["attention_bias"] = qkv_bias;
    object["mlp_bias"] = mlp_bias;
  } else if (model_type == "mistral") {
    object["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
  }
  return object;
}

std::string ModelConfig::ToHfJsonText() const { return ToHfJson().dump(2) + "\n"; }

ModelConfig ModelConfig::Load(const std::string& config_json_path) {
  const std::string text = ReadFile(config_json_path);
  json object;
  try {
    object = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InvalidInput(config_json_path + ": invalid JSON: " + e.what());
  }
  return FromHfJson(object, config_json_path);
}

void ModelConfig::Save(const std::string& config_json_path) const {
  WriteFileAtomically(config_json_path, ToHfJsonText());
}

}  // namespace dpo
