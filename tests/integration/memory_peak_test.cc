// dpo-train's memory model (--dry-run) against the peak the counting CPU allocator measures in
// the training steps of real runs, for shapes and settings the model was not tuned on: within
// 10% of the measured bytes, with activations a large share of the total so that the check is
// about them and not only about the parameter and optimizer arithmetic.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>

#include <nlohmann/json.hpp>

#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

// Rows whose prompt and completions overflow data.max_length, so every micro-batch is padded to
// exactly max_length and the model's worst case is the case that runs.
void WriteLongRows(const std::string& path, int rows) {
  std::mt19937 random(7);
  const auto text = [&random](int length) {
    std::string s;
    for (int i = 0; i < length; ++i) s += "abcdefgh ijklmnop"[random() % 17];
    return s;
  };
  std::ofstream out(path);
  for (int i = 0; i < rows; ++i) {
    out << nlohmann::json{{"prompt", text(300)}, {"chosen", text(400)}, {"rejected", text(400)}}.dump() << "\n";
  }
}

// The dry run's total and the share of activations and working set in it.
struct DryRunPlan {
  int64_t total = -1;
  double activation_share = 0;
};
DryRunPlan ParseDryRun(const std::string& output) {
  const auto bytes_of = [&output](const std::string& label) -> int64_t {
    std::smatch match;
    const std::regex line("\\n    " + label + ": [^\\n]*\\((\\d+) bytes\\)");
    return std::regex_search(output, match, line) ? std::stoll(match[1]) : -1;
  };
  DryRunPlan plan;
  plan.total = bytes_of("total");
  const int64_t activations = std::max(bytes_of("activations"), bytes_of("activations \\(gradient checkpointing\\)"));
  plan.activation_share = static_cast<double>(activations + bytes_of("working set")) / static_cast<double>(plan.total);
  return plan;
}

struct Case {
  const char* name;
  const char* model;
  const char* extra;  // more --set flags, space-separated
};

class MemoryPeakTest : public ::testing::TestWithParam<Case> {};

TEST_P(MemoryPeakTest, MeasuredPeakIsWithinTenPercentOfTheModel) {
  const Case& c = GetParam();
  TempDir dir;
  WriteLongRows(dir.File("train.jsonl"), 24);
  std::ofstream(dir.File("job.yaml")) << "model:\n  init: random\n" << c.model
                                       << "data:\n  train: train.jsonl\n  max_length: 160\n  max_prompt_length: 64\n"
                                       << "training:\n  max_steps: 3\n  per_device_batch_size: 3\n  threads: 1\n"
                                       << "output:\n  dir: output\nmetrics:\n  progress: never\n";
  std::vector<std::string> command = {BinaryPath("dpo-train"), "--config", dir.File("job.yaml")};
  std::istringstream extra(c.extra);
  for (std::string flag; extra >> flag;) {
    command.push_back("--set");
    command.push_back(flag);
  }

  std::vector<std::string> dry = command;
  dry.push_back("--dry-run");
  const ProcessResult planned = RunProcess(dry, SingleThreadEnv());
  ASSERT_EQ(planned.exit_code, 0) << planned.output;
  const DryRunPlan plan = ParseDryRun(planned.output);
  ASSERT_GT(plan.total, 0) << planned.output;
  EXPECT_GT(plan.activation_share, 0.3) << planned.output;

  const ProcessResult run = RunProcess(command, SingleThreadEnv());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const StepMemory memory = ParseStepMemory(run.output);
  ASSERT_GT(memory.measured, 0) << run.output;
  EXPECT_EQ(memory.modelled, plan.total) << "the run and the dry run model the same job";
  const double ratio = static_cast<double>(memory.modelled) / static_cast<double>(memory.measured);
  std::printf("%s: measured %lld bytes, modelled %lld, ratio %.4f, activations + working set %.0f%% of the total\n",
              c.name, static_cast<long long>(memory.measured), static_cast<long long>(memory.modelled), ratio,
              100 * plan.activation_share);
  EXPECT_NEAR(ratio, 1.0, 0.10) << run.output;
}

const char* kLlama =
    "  model_type: llama\n  hidden_size: 96\n  num_hidden_layers: 3\n  num_attention_heads: 6\n"
    "  num_key_value_heads: 2\n  intermediate_size: 256\n  max_position_embeddings: 256\n  vocab_size: 0\n";
const char* kGpt2 = "  model_type: gpt2\n  n_embd: 64\n  n_layer: 3\n  n_head: 4\n  n_positions: 256\n  vocab_size: 0\n";

INSTANTIATE_TEST_SUITE_P(
    Jobs, MemoryPeakTest,
    ::testing::Values(Case{"LlamaLocalReference", kLlama, ""},
                      Case{"LlamaCheckpointedPrecomputed", kLlama,
                           "model.gradient_checkpointing=true reference.precompute=true"},
                      Case{"Gpt2ReferenceFree", kGpt2, "training.loss_type=simpo model.log_prob_chunk_tokens=100"},
                      Case{"Gpt2CheckpointedLocalReference", kGpt2, "model.gradient_checkpointing=true"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dpo::testing
