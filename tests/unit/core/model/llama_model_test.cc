// Llama-family model: HF names and init, causality, incremental decoding with grouped-query
// attention, save/load (single file, sharded, bf16), rotary frequencies, the sliding-window limit
// and gradient checkpointing at model level.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "core/model/rotary.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::RandomTokenIds;
using testing::SameHfWeights;
using testing::TempDir;
using testing::TinyGpt2Config;
using testing::TinyLlamaConfig;

std::vector<std::string> Names(CausalLm& model) {
  std::vector<std::string> names;
  for (const auto& tensor : model.HfStateDict()) names.push_back(tensor.name);
  return names;
}

TEST(LlamaModel, ParametersHaveTransformersNamesAndShapes) {
  auto model = CreateCausalLm(TinyLlamaConfig(), 1);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, tensor] : model->HfStateDict()) shapes[name] = tensor.sizes().vec();
  EXPECT_EQ(shapes.size(), 3u + 2u * 9u);  // embed, norm, lm_head + 9 per layer
  EXPECT_EQ(shapes.at("model.embed_tokens.weight"), (std::vector<int64_t>{259, 32}));
  EXPECT_EQ(shapes.at("model.layers.1.self_attn.q_proj.weight"), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(shapes.at("model.layers.1.self_attn.k_proj.weight"), (std::vector<int64_t>{16, 32}));  // 2 kv heads of 8
  EXPECT_EQ(shapes.at("model.layers.1.self_attn.v_proj.weight"), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.gate_proj.weight"), (std::vector<int64_t>{48, 32}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.down_proj.weight"), (std::vector<int64_t>{32, 48}));
  EXPECT_EQ(shapes.at("model.layers.0.post_attention_layernorm.weight"), (std::vector<int64_t>{32}));
  EXPECT_EQ(shapes.at("lm_head.weight"), (std::vector<int64_t>{259, 32}));
  EXPECT_EQ(shapes.at("model.norm.weight"), (std::vector<int64_t>{32}));
  int64_t count = 0;
  for (const auto& [name, shape] : shapes) count += c10::multiply_integers(shape);
  EXPECT_EQ(count, TinyLlamaConfig().NumParameters());
}

TEST(LlamaModel, Qwen2StyleBiasesAndTiedHead) {
  ModelConfig config = TinyLlamaConfig();
  config.model_type = "qwen2";
  config.qkv_bias = true;
  config.tie_word_embeddings = true;
  auto model = CreateCausalLm(config, 1);
  const auto names = Names(*model);
  auto has = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  EXPECT_TRUE(has("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(has("model.layers.0.self_attn.v_proj.bias"));
  EXPECT_FALSE(has("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(has("lm_head.weight"));
  EXPECT_EQ(model->HfStateDict()[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(model->OutputEmbedding().data_ptr(), model->HfStateDict()[0].tensor.data_ptr());  // one tensor
  EXPECT_EQ(static_cast<int64_t>(names.size()), 2 + 2 * 12);
}

TEST(LlamaModel, InitFollowsHfScheme) {
  const ModelConfig config = TinyLlamaConfig();
  auto model = CreateCausalLm(config, 3);
  for (const auto& [name, tensor] : model->HfStateDict()) {
    if (name.find("norm.weight") != std::string::npos) {
      EXPECT_TRUE(torch::all(tensor == 1.0).item<bool>()) << name;
    } else {
      EXPECT_NEAR(tensor.std().item<double>(), config.initializer_range, 0.3 * config.initializer_range) << name;
    }
  }
  auto again = CreateCausalLm(config, 3);
  auto other = CreateCausalLm(config, 4);
  EXPECT_TRUE(SameHfWeights(*model, *again));
  EXPECT_FALSE(SameHfWeights(*model, *other));
}

TEST(LlamaModel, LaterTokensNeverChangeEarlierPositions) {
  auto model = CreateCausalLm(TinyLlamaConfig(), 2);
  torch::NoGradGuard no_grad;
  auto ids = RandomTokenIds(2, 12, 5);
  const auto before = model->Logits(ids);
  ids.index_put_({torch::indexing::Slice(), 11}, 7);
  const auto after = model->Logits(ids);
  EXPECT_TRUE(torch::equal(before.narrow(1, 0, 11), after.narrow(1, 0, 11)));
  EXPECT_FALSE(torch::allclose(before.narrow(1, 11, 1), after.narrow(1, 11, 1)));
}

TEST(LlamaModel, IncrementalDecodingMatchesTheFullForward) {
  auto model = CreateCausalLm(TinyLlamaConfig(), 4);
  torch::NoGradGuard no_grad;
  const auto ids = RandomTokenIds(2, 10, 6);
  const auto full = model->HiddenStates(ids);
  CausalLm::KvCache cache;
  const auto prefix = model->HiddenStatesIncremental(ids.narrow(1, 0, 6), cache);
  std::vector<at::Tensor> parts = {prefix};
  for (int64_t i = 6; i < 10; ++i) parts.push_back(model->HiddenStatesIncremental(ids.narrow(1, i, 1), cache));
  EXPECT_EQ(cache.length, 10);
  EXPECT_EQ(cache.keys[0].sizes().vec(), (std::vector<int64_t>{2, 2, 10, 8}));  // kv heads are cached
  EXPECT_TRUE(torch::allclose(torch::cat(parts, 1), full, 1e-5, 1e-5));
}

TEST(LlamaModel, SaveLoadRoundTripIsBitExactSingleAndSharded) {
  auto model = CreateCausalLm(TinyLlamaConfig(), 11);
  torch::NoGradGuard no_grad;
  const auto ids = RandomTokenIds(3, 16, 2);
  const auto logits = model->Logits(ids);
  for (const int64_t max_shard_bytes : {int64_t{5'000'000'000}, int64_t{20'000}}) {
    TempDir dir;
    ModelSaveOptions options;
    options.max_shard_bytes = max_shard_bytes;
    const auto files = SaveModelDirectory(*model, dir.path(), options);
    auto loaded = LoadModelDirectory(dir.path());
    EXPECT_TRUE(SameHfWeights(*model, *loaded)) << max_shard_bytes;
    EXPECT_TRUE(torch::equal(logits, loaded->Logits(ids))) << max_shard_bytes;
    const auto config = nlohmann::json::parse(ReadFile(dir.File("config.json")));
    EXPECT_EQ(config.at("architectures")[0], "LlamaForCausalLM");
    EXPECT_EQ(config.at("num_key_value_heads"), 2);
    EXPECT_EQ(config.at("rope_scaling").at("rope_type"), "llama3");
    if (max_shard_bytes > 1'000'000) {
      EXPECT_EQ(files, std::vector<std::string>{"model.safetensors"});
      continue;
    }
    // 20 kB shards of ~33 kB embeddings/head and ~10 kB layers: several files plus the index.
    ASSERT_GT(files.size(), 3u);
    EXPECT_EQ(files[0], "model.safetensors.index.json");
    EXPECT_EQ(files[1], "model-00001-of-0000" + std::to_string(files.size() - 1) + ".safetensors");
    EXPECT_FALSE(std::filesystem::exists(dir.File("model.safetensors")));
    const auto index = nlohmann::json::parse(ReadFile(dir.File("model.safetensors.index.json")));
    int64_t total = 0;
    for (const auto& tensor : model->HfStateDict()) {
      total += static_cast<int64_t>(tensor.tensor.nbytes());
      const std::string shard = index.at("weight_map").at(tensor.name);
      bool found = false;
      for (const auto& stored : ReadSafetensors(dir.File(shard)).tensors) found = found || stored.name == tensor.name;
      EXPECT_TRUE(found) << tensor.name << " in " << shard;
    }
    EXPECT_EQ(index.at("metadata").at("total_size"), total);
    // Saving again unsharded replaces the shards: no stale weight files stay behind.
    SaveModelDirectory(*model, dir.path());
    std::set<std::string> left;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) left.insert(entry.path().filename());
    EXPECT_EQ(left, (std::set<std::string>{"config.json", "model.safetensors"}));
  }
}

TEST(LlamaModel, SavesBfloat16WeightsAndTorchDtype) {
  TempDir dir;
  auto model = CreateCausalLm(TinyLlamaConfig(), 11);
  ModelSaveOptions options;
  options.dtype = torch::kBFloat16;
  SaveModelDirectory(*model, dir.path(), options);
  for (const auto& tensor : ReadSafetensors(dir.File("model.safetensors")).tensors) {
    EXPECT_EQ(tensor.tensor.scalar_type(), torch::kBFloat16) << tensor.name;
  }
  EXPECT_EQ(nlohmann::json::parse(ReadFile(dir.File("config.json"))).at("torch_dtype"), "bfloat16");
  auto loaded = LoadModelDirectory(dir.path());
  const auto expected = model->HfStateDict(), found = loaded->HfStateDict();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(found[i].tensor.scalar_type(), torch::kFloat);  // trained in float32
    EXPECT_TRUE(torch::equal(found[i].tensor, expected[i].tensor.to(torch::kBFloat16).to(torch::kFloat)))
        << expected[i].name;
  }
}

TEST(LlamaModel, ShardedIndexProblemsAreNamed) {
  TempDir dir;
  auto model = CreateCausalLm(TinyLlamaConfig(), 11);
  ModelSaveOptions options;
  options.max_shard_bytes = 20'000;
  SaveModelDirectory(*model, dir.path(), options);
  const std::string index_path = dir.File("model.safetensors.index.json");
  auto index = nlohmann::json::parse(ReadFile(index_path));
  auto expect_error = [&](const nlohmann::json& bad, const std::string& expected) {
    WriteFileAtomically(index_path, bad.dump());
    try {
      LoadModelDirectory(dir.path());
      ADD_FAILURE() << "expected an error: " << expected;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), expected);
    }
  };
  const std::string first_shard = index["weight_map"]["model.embed_tokens.weight"];
  const std::string norm_shard = index["weight_map"]["model.norm.weight"];
  ASSERT_NE(first_shard, norm_shard);
  auto moved = index;
  moved["weight_map"]["model.norm.weight"] = first_shard;
  expect_error(moved, dir.File(norm_shard) + ": tensor \"model.norm.weight\" is not in this shard according to "
                                             "model.safetensors.index.json (it names " + first_shard + ")");
  auto escaping = index;
  escaping["weight_map"]["model.norm.weight"] = "../model.safetensors";
  expect_error(escaping, index_path + ": weight_map[\"model.norm.weight\"]: \"../model.safetensors\" is not a file "
                                      "name in the model directory");
  auto missing_shard = index;
  missing_shard["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
  expect_error(missing_shard, index_path + ": names shard model-00009-of-00009.safetensors, which is missing");
  expect_error(nlohmann::json::array(), index_path + ": expected an object with a \"weight_map\" object (tensor name "
                                                     "-> shard file)");
}

TEST(LlamaModel, RotaryFrequenciesFollowTheLlama3Bands) {
  const ModelConfig config = TinyLlamaConfig();  // head 8, theta 5e5, factor 8, bands at 64 and 256
  const auto inverse = RotaryInverseFrequencies(config);
  ASSERT_EQ(inverse.numel(), 4);
  std::vector<double> plain;
  for (int i = 0; i < 4; ++i) plain.push_back(1.0 / std::pow(500000.0, 2.0 * i / 8.0));
  EXPECT_NEAR(inverse[0].item<double>(), plain[0], 1e-7);        // wavelength 6.3 < 64: kept
  EXPECT_NEAR(inverse[2].item<double>(), plain[2] / 8, 1e-10);   // wavelength 4443 > 256: scaled
  EXPECT_NEAR(inverse[3].item<double>(), plain[3] / 8, 1e-12);
  const double wavelength = 2 * M_PI / plain[1];                 // 167: smoothed
  const double smooth = (256.0 / wavelength - 1.0) / (4.0 - 1.0);
  EXPECT_NEAR(inverse[1].item<double>(), (1 - smooth) * plain[1] / 8 + smooth * plain[1], 1e-9);
  ModelConfig linear = config;
  linear.rope_scaling.rope_type = "linear";
  linear.rope_scaling.factor = 2.0;
  EXPECT_NEAR(RotaryInverseFrequencies(linear)[1].item<double>(), plain[1] / 2, 1e-9);
}

TEST(LlamaModel, MistralSlidingWindowBoundsTheSequenceLength) {
  ModelConfig config = TinyLlamaConfig();
  config.model_type = "mistral";
  config.sliding_window = 8;
  auto model = CreateCausalLm(config, 1);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->HiddenStates(RandomTokenIds(1, 8, 1)).size(1), 8);
  try {
    model->HiddenStates(RandomTokenIds(1, 9, 1));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sequence length 9 exceeds the model's sliding_window=8 (sliding-window attention is not "
                           "implemented; sequences up to the window are exact)");
  }
}

TEST(LlamaModel, MismatchedWeightsNameEveryProblem) {
  auto model = CreateCausalLm(TinyLlamaConfig(), 1);
  std::vector<NamedTensor> tensors;
  for (auto& [name, tensor] : model->HfStateDict()) {
    if (name == "lm_head.weight") continue;
    tensors.push_back({name, name == "model.layers.0.self_attn.k_proj.weight" ? torch::zeros({32, 32}) : tensor});
  }
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", torch::zeros({4})});  // old exports: ignored
  try {
    model->LoadHfStateDict(tensors, "w.safetensors");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "w.safetensors: weights do not match the model config:\n"
                                     "  tensor \"model.layers.0.self_attn.k_proj.weight\": expected shape [16, 32], "
                                     "found [32, 32]\n"
                                     "  missing tensor \"lm_head.weight\"");
  }
}

// Gradients of a training-mode forward with and without gradient checkpointing, for both families.
TEST(GradientCheckpointingModels, SameGradientsForEveryFamily) {
  for (const ModelConfig& config : {TinyGpt2Config(), TinyLlamaConfig()}) {
    auto plain = CreateCausalLm(config, 9);
    auto checkpointed = CreateCausalLm(config, 9);
    checkpointed->SetGradientCheckpointing(true);
    const auto ids = RandomTokenIds(2, 12, 3);
    for (auto* model : {plain.get(), checkpointed.get()}) {
      model->module().train();
      model->Logits(ids).logsumexp(-1).sum().backward();
    }
    const auto a = plain->module().named_parameters(), b = checkpointed->module().named_parameters();
    for (const auto& item : a) {
      ASSERT_TRUE(b[item.key()].grad().defined()) << config.model_type << " " << item.key();
      EXPECT_TRUE(torch::allclose(item.value().grad(), b[item.key()].grad(), 1e-6, 1e-7))
          << config.model_type << " " << item.key();
    }
  }
}

TEST(GradientCheckpointingModels, RefusedWithDropout) {
  ModelConfig config = TinyGpt2Config();
  config.attn_pdrop = 0.1;
  try {
    CreateCausalLm(config, 1)->SetGradientCheckpointing(true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "model.gradient_checkpointing requires dropout 0 (recomputed blocks would draw other "
                           "dropout masks), found model.attn_pdrop=0.100000");
  }
}

}  // namespace
}  // namespace dpo
