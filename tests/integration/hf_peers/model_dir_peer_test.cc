// Model directories written by dpo-cluster are checkpoints transformers loads unchanged and runs
// to the same logits: SaveModelDirectory for every family and storage dtype (GPT-2 float16;
// Llama with grouped-query attention and llama3 rope scaling in bfloat16 shards; Qwen2 with
// q/k/v biases and a tied head in float32; Mistral with a sliding window, bfloat16), and the
// final/ directory dpo-train writes (GPT-2 float32, Llama bfloat16). Each directory is loaded by
// AutoModelForCausalLM.from_pretrained in float64 (hf_logits.py, which refuses any missing or
// unused tensor) and by LoadModelDirectory, and the logits of both are compared.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/model/pretrained.h"
#include "core/model/safetensors.h"
#include "tests/support/python_peer.h"
#include "tests/integration/train_job.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// float32 against float64 logits of the same stored weights: rounding only.
constexpr double kTolerance = 5e-5;

// Replaces every weight with values far from the family's initialisation (std 0.02 makes logits
// near zero, which would not tell a wrong detail from rounding): norm gains 1 + 0.1 N(0, 1),
// biases 0.1 N(0, 1), other weights 0.2 N(0, 1).
void SpreadWeights(CausalLm& model, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<NamedTensor> tensors = model.HfStateDict();
  for (NamedTensor& named : tensors) {
    const at::Tensor noise = torch::randn(named.tensor.sizes(), generator, torch::kFloat);
    const bool is_bias = named.name.size() >= 4 && named.name.compare(named.name.size() - 4, 4, "bias") == 0;
    const bool is_norm = named.name.find("norm") != std::string::npos || named.name.find("ln_") != std::string::npos;
    named.tensor = is_bias ? 0.1 * noise : is_norm ? 1.0 + 0.1 * noise : 0.2 * noise;
  }
  model.LoadHfStateDict(tensors, "spread weights");
}

struct Comparison {
  double max_error = 0;     // max |dpo-cluster logit - transformers logit|
  double logits_std = 0;    // of transformers' logits
};

// Logits of `model_dir` for `ids` ((N, T) int64) from LoadModelDirectory and from transformers.
Comparison CompareWithTransformers(const std::string& model_dir, const at::Tensor& ids) {
  testing::TempDir io;
  WriteSafetensors(io.File("inputs.safetensors"), {{"input_ids", ids}});
  const auto peer = testing::RunPython(std::string(DPO_HF_PEERS_DIR) + "/hf_logits.py", {model_dir, io.File("inputs.safetensors"), io.File("logits.safetensors")});
  EXPECT_EQ(peer.exit_code, 0) << testing::OutputTail(peer.output);
  if (peer.exit_code != 0) return {1e9, 0};
  const at::Tensor expected = ReadSafetensors(io.File("logits.safetensors")).tensors.at(0).tensor;

  const auto model = LoadModelDirectory(model_dir);
  model->module().eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits = model->Logits(ids);
  EXPECT_EQ(logits.sizes(), expected.sizes());
  if (logits.sizes() != expected.sizes()) return {1e9, 0};
  return {(logits - expected).abs().max().item<double>(), expected.std().item<double>()};
}

// ------------------------------------------------------------------ SaveModelDirectory

struct SaveCase {
  std::string name;
  nlohmann::json config;  // config.json fields over the family's defaults
  c10::ScalarType dtype;
  int64_t max_shard_bytes;
  size_t min_weight_files;  // SaveModelDirectory writes at least these (index + shards, or one file)
};

void PrintTo(const SaveCase& save_case, std::ostream* out) { *out << save_case.name; }

ModelConfig ConfigOf(const SaveCase& save_case) {
  nlohmann::json object = save_case.config;
  object["vocab_size"] = 259;  // RandomTokenIds draws from [0, 256)
  return ModelConfig::FromHfJson(object, save_case.name);
}

class SavedDirectoryLoadsInTransformers : public ::testing::TestWithParam<SaveCase> {};

TEST_P(SavedDirectoryLoadsInTransformers, WithTheSameLogits) {
  const SaveCase& save_case = GetParam();
  const auto model = CreateCausalLm(ConfigOf(save_case), 11);
  SpreadWeights(*model, 12);
  testing::TempDir dir;
  const auto files = SaveModelDirectory(*model, dir.path(), {save_case.dtype, save_case.max_shard_bytes});
  ASSERT_GE(files.size(), save_case.min_weight_files);

  const Comparison result = CompareWithTransformers(dir.path(), testing::RandomTokenIds(2, 12, 13));
  std::cout << save_case.name << ": max |logit - transformers| = " << result.max_error << " (logits std "
            << result.logits_std << ")\n";
  EXPECT_LT(result.max_error, kTolerance);
  EXPECT_GT(result.logits_std, 1.0);  // sharp enough that one wrong detail shows
}

INSTANTIATE_TEST_SUITE_P(
    Families, SavedDirectoryLoadsInTransformers,
    ::testing::Values(
        SaveCase{"gpt2_float16",
                 {{"model_type", "gpt2"}, {"n_positions", 32}, {"n_embd", 32}, {"n_layer", 2}, {"n_head", 4},
                  {"bos_token_id", 256}, {"eos_token_id", 257}},
                 torch::kHalf, 5'000'000'000, 1},
        SaveCase{"llama_bfloat16_shards",
                 {{"model_type", "llama"}, {"max_position_embeddings", 64}, {"hidden_size", 32},
                  {"intermediate_size", 48}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                  {"num_key_value_heads", 2}, {"rope_theta", 500000.0},
                  {"rope_scaling",
                   {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                    {"original_max_position_embeddings", 256}}},
                  {"tie_word_embeddings", false}, {"bos_token_id", 256}, {"eos_token_id", 257}},
                 torch::kBFloat16, 20'000, 4},
        SaveCase{"qwen2_float32",
                 {{"model_type", "qwen2"}, {"max_position_embeddings", 64}, {"hidden_size", 48},
                  {"intermediate_size", 80}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                  {"num_key_value_heads", 1}, {"rope_theta", 1000000.0}, {"tie_word_embeddings", true},
                  {"bos_token_id", 256}, {"eos_token_id", 257}},
                 torch::kFloat, 5'000'000'000, 1},
        SaveCase{"mistral_bfloat16",
                 {{"model_type", "mistral"}, {"max_position_embeddings", 64}, {"hidden_size", 48},
                  {"intermediate_size", 72}, {"num_hidden_layers", 2}, {"num_attention_heads", 6},
                  {"num_key_value_heads", 2}, {"sliding_window", 16}, {"tie_word_embeddings", false},
                  {"bos_token_id", 256}, {"eos_token_id", 257}},
                 torch::kBFloat16, 5'000'000'000, 1}),
    [](const ::testing::TestParamInfo<SaveCase>& info) { return info.param.name; });

// ------------------------------------------------------------------ dpo-train's final/

// Runs `config` (a job file in `job`'s directory, using its train.jsonl) and returns final/.
std::string TrainFinal(const testing::TrainJob& job, const std::string& config) {
  const auto run = testing::RunProcess({testing::BinaryPath("dpo-train"), "--config", config},
                                       testing::SingleThreadEnv(), 600);
  EXPECT_EQ(run.exit_code, 0) << testing::OutputTail(run.output);
  return job.output_dir() + "/final";
}

TEST(TrainedDirectoryLoadsInTransformers, Gpt2) {
  const testing::TrainJob job(16, "  max_steps: 2\n");
  const std::string final_dir = TrainFinal(job, job.config_path());
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Comparison result = CompareWithTransformers(final_dir, testing::RandomTokenIds(2, 24, 21));
  std::cout << "dpo-train gpt2: max |logit - transformers| = " << result.max_error << " (logits std "
            << result.logits_std << ")\n";
  EXPECT_LT(result.max_error, kTolerance);
}

TEST(TrainedDirectoryLoadsInTransformers, LlamaInBfloat16) {
  const testing::TrainJob job(16);
  const std::string config = job.dir() + "/llama.yaml";
  std::ofstream(config) << "model:\n  init: random\n  seed: 5\n  model_type: llama\n  hidden_size: 32\n"
                           "  intermediate_size: 64\n  num_hidden_layers: 2\n  num_attention_heads: 4\n"
                           "  num_key_value_heads: 2\n  max_position_embeddings: 96\n  rope_theta: 500000.0\n"
                           "  rope_scaling: {rope_type: llama3, factor: 8.0, low_freq_factor: 1.0,\n"
                           "                 high_freq_factor: 4.0, original_max_position_embeddings: 256}\n"
                           "data:\n  train: train.jsonl\n  max_length: 96\n  max_prompt_length: 48\n"
                           "training:\n  max_steps: 2\n  learning_rate: 0.01\n  per_device_batch_size: 4\n"
                           "  threads: 1\n"
                           "output:\n  dir: output\n  save_dtype: bfloat16\n"
                           "metrics:\n  progress: never\n";
  const std::string final_dir = TrainFinal(job, config);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Comparison result = CompareWithTransformers(final_dir, testing::RandomTokenIds(2, 24, 22));
  std::cout << "dpo-train llama: max |logit - transformers| = " << result.max_error << " (logits std "
            << result.logits_std << ")\n";
  EXPECT_LT(result.max_error, kTolerance);
}

}  // namespace
}  // namespace dpo
