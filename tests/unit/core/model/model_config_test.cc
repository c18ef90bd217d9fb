// ModelConfig <-> config.json for every family: family selection, HF defaults for absent fields,
// rope_scaling, biases, pass-through of the fields that do not change the computation, and the
// errors for what dpo-cluster does not implement.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/model/model_config.h"

namespace dpo {
namespace {

using nlohmann::json;

std::string ErrorOf(const json& config) {
  try {
    ModelConfig::FromHfJson(config, "m/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The fields of a Llama 3.2 1B config.json, sizes shrunk.
json Llama3Config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 16,
    "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 96,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

TEST(ModelConfig, ReadsALlama3ConfigWithEveryField) {
  const ModelConfig config = ModelConfig::FromHfJson(Llama3Config(), "config.json");
  EXPECT_EQ(config.family(), ModelFamily::kLlama);
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.num_layers, 2);
  EXPECT_EQ(config.num_heads, 4);
  EXPECT_EQ(config.KvHeads(), 2);
  EXPECT_EQ(config.HeadSize(), 16);
  EXPECT_EQ(config.InnerSize(), 96);
  EXPECT_EQ(config.max_positions, 131072);
  EXPECT_DOUBLE_EQ(config.norm_epsilon, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_EQ(config.rope_scaling.rope_type, "llama3");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 32.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_FALSE(config.qkv_bias);
  EXPECT_EQ(config.bos_token_id, 128000);
  EXPECT_EQ(config.eos_token_id, 128001);  // the first of the list
  EXPECT_EQ(config.torch_dtype, "bfloat16");
}

TEST(ModelConfig, WritesBackWhatItReadIncludingPassThroughFields) {
  const json original = Llama3Config();
  json written = ModelConfig::FromHfJson(original, "config.json").ToHfJson();
  // Every original field comes back with its value (the eos list and transformers_version too).
  for (const auto& [key, value] : original.items()) EXPECT_EQ(written.at(key), value) << key;
  EXPECT_EQ(written.size(), original.size()) << written.dump(1);
}

// transformers 5 writes `dtype` and one `rope_parameters` object (rope_theta inside) where earlier
// versions wrote torch_dtype, rope_theta and rope_scaling. The file is one transformers 5.17 wrote
// (tests/fixtures/hf_config/README.md gives the LlamaConfig arguments checked here).
TEST(ModelConfig, ReadsTheTransformers5Layout) {
  const ModelConfig config = ModelConfig::Load(std::string(DPO_FIXTURES_DIR) + "/hf_config/llama_transformers5.json");
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_EQ(config.rope_scaling.rope_type, "llama3");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 16);
  EXPECT_EQ(config.torch_dtype, "bfloat16");
  EXPECT_EQ(config.passthrough.count("rope_parameters"), 0u);
  EXPECT_EQ(config.passthrough.count("dtype"), 0u);
  // The same settings in the older layout give the same config.
  json legacy = json::parse(ReadFile(std::string(DPO_FIXTURES_DIR) + "/hf_config/llama_transformers5.json"));
  legacy["rope_theta"] = legacy["rope_parameters"]["rope_theta"];
  legacy["rope_parameters"].erase("rope_theta");
  legacy["rope_scaling"] = legacy["rope_parameters"];
  legacy.erase("rope_parameters");
  legacy["torch_dtype"] = legacy["dtype"];
  legacy.erase("dtype");
  EXPECT_EQ(ModelConfig::FromHfJson(legacy, "legacy.json").ToHfJsonText(), config.ToHfJsonText());
  // Both layouts at once could disagree: refused, naming the fields.
  json both = legacy;
  both["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  EXPECT_NE(ErrorOf(both).find("rope_parameters: given together with rope_theta/rope_scaling"), std::string::npos)
      << ErrorOf(both);
  json no_theta = json::parse(ReadFile(std::string(DPO_FIXTURES_DIR) + "/hf_config/llama_transformers5.json"));
  no_theta["rope_parameters"].erase("rope_theta");
  EXPECT_NE(ErrorOf(no_theta).find("rope_parameters.rope_theta: missing"), std::string::npos) << ErrorOf(no_theta);
}

TEST(ModelConfig, AbsentFieldsTakeHfDefaultsOfTheFamily) {
  const ModelConfig llama = ModelConfig::FromHfJson(json{{"model_type", "llama"}}, "c");
  EXPECT_EQ(llama.hidden_size, 4096);
  EXPECT_EQ(llama.KvHeads(), 32);  // num_key_value_heads defaults to num_attention_heads
  EXPECT_DOUBLE_EQ(llama.norm_epsilon, 1e-6);
  EXPECT_FALSE(llama.tie_word_embeddings);
  const ModelConfig qwen2 = ModelConfig::FromHfJson(json{{"architectures", {"Qwen2ForCausalLM"}}}, "c");
  EXPECT_EQ(qwen2.model_type, "qwen2");  // the family from architectures
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.output_bias);
  const ModelConfig mistral = ModelConfig::FromHfJson(json{{"model_type", "mistral"}, {"sliding_window", nullptr}}, "c");
  EXPECT_EQ(mistral.sliding_window, 0);
  EXPECT_EQ(mistral.KvHeads(), 8);
  const ModelConfig gpt2 = ModelConfig::FromHfJson(json{{"model_type", "gpt2"}}, "c");
  EXPECT_EQ(gpt2.hidden_size, 768);
  EXPECT_EQ(gpt2.InnerSize(), 4 * 768);
}

TEST(ModelConfig, LlamaAttentionBiasSetsEveryProjectionBias) {
  json config = Llama3Config();
  config["attention_bias"] = true;
  config["mlp_bias"] = true;
  const ModelConfig parsed = ModelConfig::FromHfJson(config, "c");
  EXPECT_TRUE(parsed.qkv_bias);
  EXPECT_TRUE(parsed.output_bias);
  EXPECT_TRUE(parsed.mlp_bias);
}

TEST(ModelConfig, NumParametersCountsEveryTensorOfTheFamily) {
  ModelConfig config = ModelConfig::FromHfJson(Llama3Config(), "c");
  config.vocab_size = 100;
  const int64_t h = 64, q = 4 * 16, kv = 2 * 16, inner = 96;
  const int64_t per_layer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * inner;
  EXPECT_EQ(config.NumParameters(), 100 * h + 2 * per_layer + h);
  config.tie_word_embeddings = false;
  config.qkv_bias = true;
  EXPECT_EQ(config.NumParameters(), 2 * 100 * h + 2 * (per_layer + q + 2 * kv) + h);
}

TEST(ModelConfig, UnsupportedFamiliesAndFieldsNameWhatIsSupported) {
  EXPECT_EQ(ErrorOf(json{{"architectures", {"BertForMaskedLM"}}}),
            "m/config.json: invalid model config:\n  model.model_type: missing, and architectures "
            "[\"BertForMaskedLM\"] names no supported causal LM (supported: GPT2LMHeadModel, LlamaForCausalLM, "
            "MistralForCausalLM, Qwen2ForCausalLM)");
  EXPECT_EQ(ErrorOf(json{{"model_type", "llama"}, {"architectures", {"LlamaForSequenceClassification"}}}),
            "m/config.json: invalid model config:\n  model.architectures: \"LlamaForSequenceClassification\" is not "
            "supported for model_type \"llama\" (supported: LlamaForCausalLM)");
  json yarn = Llama3Config();
  yarn["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(ErrorOf(yarn), "m/config.json: invalid model config:\n  model.rope_scaling.rope_type=\"yarn\" is not "
                           "supported (supported: default, linear, llama3)");
  json incomplete = Llama3Config();
  incomplete["rope_scaling"].erase("low_freq_factor");
  EXPECT_EQ(ErrorOf(incomplete), "m/config.json: invalid model config:\n  model.rope_scaling.low_freq_factor: missing");
  json gelu = Llama3Config();
  gelu["hidden_act"] = "gelu";
  EXPECT_EQ(ErrorOf(gelu), "m/config.json: invalid model config:\n  model.hidden_act=\"gelu\" is not supported "
                           "(supported: silu)");
  EXPECT_EQ(ErrorOf(json{{"model_type", "qwen2"}, {"use_sliding_window", true}}),
            "m/config.json: invalid model config:\n  model.use_sliding_window=true is not supported (supported: false)");
  EXPECT_EQ(ErrorOf(json{{"model_type", "gpt2"}, {"scale_attn_by_inverse_layer_idx", true}}),
            "m/config.json: invalid model config:\n  model.scale_attn_by_inverse_layer_idx=true is not supported "
            "(supported: false)");
}

TEST(ModelConfig, ValidationNamesFieldsByTheFamilysNames) {
  json config = Llama3Config();
  config["num_key_value_heads"] = 3;
  config["intermediate_size"] = 0;
  config["eos_token_id"] = 5000000;
  EXPECT_EQ(ErrorOf(config), "m/config.json: invalid model config:\n"
                             "  model.intermediate_size=0 must be > 0\n"
                             "  model.num_attention_heads=4 must be a multiple of model.num_key_value_heads=3\n"
                             "  model.eos_token_id=5000000 is outside the vocabulary [0, 128256)");
  json odd_head = Llama3Config();
  odd_head.erase("head_dim");
  odd_head["hidden_size"] = 60;  // head 15
  EXPECT_EQ(ErrorOf(odd_head), "m/config.json: invalid model config:\n"
                               "  the head size 15 must be even (rotary embeddings rotate pairs)");
}

TEST(ModelConfig, JobFilesRejectUnknownFieldsNamingTheKnownOnes) {
  std::vector<std::string> problems;
  const ModelConfig config = ModelConfig::ParseHfJson(
      json{{"model_type", "llama"}, {"hidden_size", 32}, {"n_embd", 32}}, ModelConfig::UnknownFields::kReject,
      "model.", &problems);
  EXPECT_EQ(config.hidden_size, 32);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("model.n_embd: unknown field for model_type llama (known: ", 0), 0u) << problems[0];
  EXPECT_NE(problems[0].find("num_key_value_heads"), std::string::npos) << problems[0];
  problems.clear();
  EXPECT_EQ(ModelConfig::ParseHfJson(json::object(), ModelConfig::UnknownFields::kReject, "model.", &problems).model_type,
            "gpt2");  // a job's default family
  EXPECT_TRUE(problems.empty());
}

}  // namespace
}  // namespace dpo
