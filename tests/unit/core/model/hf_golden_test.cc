// Logits of HF checkpoints written by transformers' save_pretrained (GPT-2 F16 without the
// "transformer." prefix, Llama-3-style BF16 in three shards with GQA and llama3 rope scaling,
// Qwen2 F32 with q/k/v biases and a tied head, Mistral F16 with GQA and a sliding window as long
// as the sequence) against the logits transformers itself computes from them in float64
// (tests/fixtures/hf_golden: README.md, make_golden.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "core/model/safetensors.h"
#include "tests/support/subprocess.h"

namespace dpo {
namespace {

const std::string kGoldenDir = testing::FixturePath("hf_golden/");

at::Tensor Find(const SafetensorsContents& contents, const std::string& name) {
  for (const auto& tensor : contents.tensors) {
    if (tensor.name == name) return tensor.tensor;
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

class HfGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(HfGolden, LogitsMatchTransformers) {
  const std::string dir = kGoldenDir + GetParam();
  auto model = LoadModelDirectory(dir);
  model->module().eval();
  const SafetensorsContents golden = ReadSafetensors(dir + "/golden.safetensors");
  const at::Tensor ids = Find(golden, "input_ids"), expected = Find(golden, "logits");
  torch::NoGradGuard no_grad;
  const at::Tensor logits = model->Logits(ids);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  // float32 against float64 with the same stored weights: differences are rounding only (4e-6 to
  // 8e-6 measured; transformers computes the rotary angles in float32 too).
  const double max_error = (logits - expected).abs().max().item<double>();
  std::cout << GetParam() << ": max |logit - golden| = " << max_error << "\n";
  EXPECT_LT(max_error, 5e-5) << GetParam() << ": logits std " << expected.std().item<double>();
  // The comparison is sharp enough to see one wrong detail: dropping the rope scaling, the
  // biases or the positions moves logits by far more than the tolerance.
  EXPECT_GT(expected.std().item<double>(), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Families, HfGolden, ::testing::Values("gpt2", "llama", "qwen2", "mistral"));

TEST(HfGolden, AWrongRopeScalingIsDetected) {
  // The same Llama weights with rope_scaling removed: the fixture must tell the difference.
  auto model = LoadModelDirectory(kGoldenDir + "llama");
  ModelConfig config = model->config();
  config.rope_scaling = RopeScaling{};
  auto unscaled = CreateCausalLm(config, 0);
  unscaled->LoadHfStateDict(model->HfStateDict(), "llama");
  const SafetensorsContents golden = ReadSafetensors(kGoldenDir + "llama/golden.safetensors");
  torch::NoGradGuard no_grad;
  const double error = (unscaled->Logits(Find(golden, "input_ids")) - Find(golden, "logits")).abs().max().item<double>();
  EXPECT_GT(error, 1e-2);
}

}  // namespace
}  // namespace dpo
