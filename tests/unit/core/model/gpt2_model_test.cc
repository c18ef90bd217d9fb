// GPT-2 model: deterministic init, HF names and layouts, causality, save/load round trips and
// the errors for mismatched weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::RandomTokenIds;
using testing::SameHfWeights;
using testing::TempDir;
using testing::TinyGpt2Config;

TEST(Gpt2Model, InitIsDeterministicPerSeed) {
  auto a = CreateCausalLm(TinyGpt2Config(), 7);
  auto b = CreateCausalLm(TinyGpt2Config(), 7);
  auto c = CreateCausalLm(TinyGpt2Config(), 8);
  EXPECT_TRUE(SameHfWeights(*a, *b));
  EXPECT_FALSE(SameHfWeights(*a, *c));
}

TEST(Gpt2Model, InitFollowsHfScheme) {
  const ModelConfig config = TinyGpt2Config();
  auto model = CreateCausalLm(config, 1);
  for (const auto& [name, tensor] : model->HfStateDict()) {
    if (name.find("ln_") != std::string::npos) {
      const double expected = name.substr(name.size() - 6) == "weight" ? 1.0 : 0.0;
      EXPECT_TRUE(torch::all(tensor == expected).item<bool>()) << name;
    } else if (name.substr(name.size() - 4) == "bias") {
      EXPECT_EQ(tensor.abs().sum().item<double>(), 0.0) << name;
    } else if (name.find("c_proj.weight") != std::string::npos) {
      const double expected = config.initializer_range / std::sqrt(2.0 * config.num_layers);
      EXPECT_NEAR(tensor.std().item<double>(), expected, 0.25 * expected) << name;
    } else {
      EXPECT_NEAR(tensor.std().item<double>(), config.initializer_range, 0.25 * config.initializer_range) << name;
    }
  }
}

TEST(Gpt2Model, StateDictUsesHfNamesAndConv1DLayout) {
  const ModelConfig config = TinyGpt2Config();
  auto model = CreateCausalLm(config, 1);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, tensor] : model->HfStateDict()) shapes[name] = tensor.sizes().vec();
  const int64_t h = config.hidden_size;
  EXPECT_EQ(shapes.at("transformer.wte.weight"), (std::vector<int64_t>{config.vocab_size, h}));
  EXPECT_EQ(shapes.at("transformer.wpe.weight"), (std::vector<int64_t>{config.max_positions, h}));
  EXPECT_EQ(shapes.at("transformer.h.1.attn.c_attn.weight"), (std::vector<int64_t>{h, 3 * h}));
  EXPECT_EQ(shapes.at("transformer.h.0.mlp.c_fc.weight"), (std::vector<int64_t>{h, 4 * h}));
  EXPECT_EQ(shapes.at("transformer.h.0.mlp.c_proj.weight"), (std::vector<int64_t>{4 * h, h}));
  EXPECT_EQ(shapes.at("transformer.ln_f.bias"), (std::vector<int64_t>{h}));
  int64_t total = 0;
  for (const auto& [name, shape] : shapes) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    total += numel;
  }
  EXPECT_EQ(total, config.NumParameters());
  EXPECT_EQ(shapes.size(), 4u + 12u * config.num_layers);
}

TEST(Gpt2Model, OutputsAreCausal) {
  auto model = CreateCausalLm(TinyGpt2Config(), 3);
  torch::NoGradGuard no_grad;
  auto ids = RandomTokenIds(2, 12, 5);
  const auto before = model->Logits(ids);
  ids.index_put_({torch::indexing::Slice(), 8}, 65);
  const auto after = model->Logits(ids);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(before.index({Slice(), Slice(0, 8)}), after.index({Slice(), Slice(0, 8)})));
  EXPECT_FALSE(torch::allclose(before.index({Slice(), 8}), after.index({Slice(), 8})));
  EXPECT_EQ(before.sizes(), (std::vector<int64_t>{2, 12, 259}));
}

TEST(Gpt2Model, RejectsSequencesLongerThanPositions) {
  auto model = CreateCausalLm(TinyGpt2Config(), 3);
  torch::NoGradGuard no_grad;
  try {
    model->HiddenStates(RandomTokenIds(1, 65, 1));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sequence length 65 exceeds the model's n_positions=64");
  }
}

TEST(Pretrained, SaveLoadRoundTripIsBitExact) {
  TempDir dir;
  auto model = CreateCausalLm(TinyGpt2Config(), 11);
  SaveModelDirectory(*model, dir.path());
  auto loaded = LoadModelDirectory(dir.path());
  EXPECT_TRUE(SameHfWeights(*model, *loaded));
  torch::NoGradGuard no_grad;
  const auto ids = RandomTokenIds(3, 16, 2);
  EXPECT_TRUE(torch::equal(model->Logits(ids), loaded->Logits(ids)));
  const auto config = nlohmann::json::parse(ReadFile(dir.File("config.json")));
  EXPECT_EQ(config.at("model_type"), "gpt2");
  EXPECT_EQ(config.at("n_embd"), 32);
  EXPECT_EQ(config.at("architectures")[0], "GPT2LMHeadModel");
}

TEST(Pretrained, LoadsNamesWithoutPrefixAndHalfPrecision) {
  TempDir dir;
  auto model = CreateCausalLm(TinyGpt2Config(), 11);
  model->config().Save(dir.File("config.json"));
  std::vector<NamedTensor> tensors;
  for (auto& [name, tensor] : model->HfStateDict()) {
    tensors.push_back({name.substr(std::string("transformer.").size()), tensor.to(torch::kBFloat16)});
  }
  tensors.push_back({"h.0.attn.bias", torch::ones({1, 1, 4, 4})});  // HF's causal-mask buffer
  WriteSafetensors(dir.File("model.safetensors"), tensors);
  auto loaded = LoadModelDirectory(dir.path());
  const auto expected = model->HfStateDict(), found = loaded->HfStateDict();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::equal(found[i].tensor, expected[i].tensor.to(torch::kBFloat16).to(torch::kFloat)))
        << expected[i].name;
  }
}

TEST(Pretrained, MismatchedWeightsNameEveryProblem) {
  TempDir dir;
  auto model = CreateCausalLm(TinyGpt2Config(), 11);
  model->config().Save(dir.File("config.json"));
  std::vector<NamedTensor> tensors;
  for (auto& [name, tensor] : model->HfStateDict()) {
    if (name == "transformer.ln_f.bias") continue;
    tensors.push_back({name, name == "transformer.wpe.weight" ? torch::zeros({16, 32}) : tensor});
  }
  tensors.push_back({"transformer.h.9.mlp.c_fc.weight", torch::zeros({2})});
  WriteSafetensors(dir.File("model.safetensors"), tensors);
  try {
    LoadModelDirectory(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(e.what()), dir.File("model.safetensors") +
                                         ": weights do not match the model config:\n"
                                         "  unexpected tensor \"transformer.h.9.mlp.c_fc.weight\"\n"
                                         "  tensor \"transformer.wpe.weight\": expected shape [64, 32], found [16, 32]\n"
                                         "  missing tensor \"transformer.ln_f.bias\"");
  }
}

TEST(Pretrained, MissingDirectoryAndWeightsAreClearErrors) {
  TempDir dir;
  EXPECT_THROW(LoadModelDirectory(dir.File("absent")), Error);
  CreateCausalLm(TinyGpt2Config(), 1)->config().Save(dir.File("config.json"));
  try {
    LoadModelDirectory(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.path() + ": missing model weights (model.safetensors or model.safetensors.index.json)");
  }
}

TEST(ModelConfig, HfJsonRoundTripAndValidation) {
  ModelConfig config = TinyGpt2Config();
  config.intermediate_size = 48;
  const ModelConfig back = ModelConfig::FromHfJson(config.ToHfJson(), "config.json");
  EXPECT_EQ(back.ToHfJson(), config.ToHfJson());
  EXPECT_EQ(back.InnerSize(), 48);

  nlohmann::json bad = config.ToHfJson();
  bad["n_head"] = 5;
  bad["model_type"] = "bert";
  bad["attn_pdrop"] = 1.5;
  try {
    ModelConfig::FromHfJson(bad, "m/config.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "m/config.json: invalid model config:\n"
              "  model.model_type=\"bert\" is not supported (supported: gpt2, llama, mistral, qwen2)\n"
              "  model.n_embd=32 must be divisible by model.n_head=5\n"
              "  model.attn_pdrop=1.5 must be in [0, 1)");
  }
  nlohmann::json wrong_type = config.ToHfJson();
  wrong_type["n_layer"] = "two";
  try {
    ModelConfig::FromHfJson(wrong_type, "m/config.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "m/config.json: invalid model config:\n  model.n_layer: expected an integer, found \"two\"");
  }
}

}  // namespace
}  // namespace dpo
