// The memory model against LibTorch's counting allocator and against the ZeRO arithmetic: the
// activations it predicts are what a real forward pass of the project's models keeps for
// backward (measured in-process), and the persistent parts divide as the stages say.
#include "core/model/memory_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/common/tensor_memory.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// Bytes still held after a training forward + log-probs of `rows` rows of `tokens` positions
// whose second half is completion: what autograd keeps for backward.
int64_t MeasuredActivations(const ModelConfig& config, bool checkpointing, int64_t rows, int64_t tokens) {
  InstallCpuTensorMemoryCounter();
  const auto model = CreateCausalLm(config, 3);
  model->SetGradientCheckpointing(checkpointing);
  model->module().train();
  const at::Tensor ids = testing::RandomTokenIds(rows, tokens, 5).remainder(config.vocab_size);
  at::Tensor mask = torch::zeros({rows, tokens}, torch::kBool);
  mask.slice(1, tokens / 2).fill_(true);
  const int64_t before = MeasureTensorMemory(c10::Device(c10::kCPU)).current_bytes;
  LogProbOptions options;
  options.chunk_tokens = 64;
  const SequenceLogProbs result = ComputeSequenceLogProbs(*model, ids, mask, options);
  const int64_t after = MeasureTensorMemory(c10::Device(c10::kCPU)).current_bytes;
  EXPECT_TRUE(result.sum_log_probs.requires_grad());
  return after - before;
}

TrainingMemoryInput Shapes(const ModelConfig& config, bool checkpointing, int64_t rows, int64_t tokens) {
  TrainingMemoryInput input;
  input.model = config;
  input.sequences = rows;
  input.sequence_tokens = tokens;
  input.scored_tokens = tokens / 2;
  input.log_prob_chunk_tokens = 64;
  input.gradient_checkpointing = checkpointing;
  return input;
}

TEST(MemoryModel, CountingAllocatorSeesEveryCpuTensor) {
  InstallCpuTensorMemoryCounter();
  const c10::Device cpu(c10::kCPU);
  ASSERT_TRUE(MeasureTensorMemory(cpu).measured);
  const int64_t before = MeasureTensorMemory(cpu).current_bytes;
  ResetTensorMemoryPeak(cpu);
  {
    const at::Tensor a = torch::empty({1000}, torch::kFloat);
    const at::Tensor b = torch::empty({10, 10}, torch::kDouble);
    EXPECT_EQ(MeasureTensorMemory(cpu).current_bytes - before, 4000 + 800);
  }
  EXPECT_EQ(MeasureTensorMemory(cpu).current_bytes, before);
  EXPECT_EQ(MeasureTensorMemory(cpu).peak_bytes - before, 4800);
  ResetTensorMemoryPeak(cpu);
  EXPECT_EQ(MeasureTensorMemory(cpu).peak_bytes, before);
}

TEST(MemoryModel, ActivationsAreWhatTheForwardPassKeeps) {
  ModelConfig llama = testing::TinyLlamaConfig();
  llama.num_layers = 3;
  ModelConfig gpt2 = testing::TinyGpt2Config();
  gpt2.num_layers = 3;
  for (const ModelConfig& config : {llama, gpt2}) {
    for (const bool checkpointing : {false, true}) {
      const int64_t rows = 6, tokens = 48;
      const double measured = static_cast<double>(MeasuredActivations(config, checkpointing, rows, tokens));
      const double modelled = static_cast<double>(EstimateTrainingMemory(Shapes(config, checkpointing, rows, tokens)).activations);
      EXPECT_NEAR(modelled / measured, 1.0, 0.05)
          << config.model_type << (checkpointing ? " with" : " without") << " checkpointing: measured " << measured
          << " bytes, modelled " << modelled;
    }
  }
}

TEST(MemoryModel, ZeroStagesDivideTheStateAndTheGradients) {
  TrainingMemoryInput input = Shapes(testing::TinyLlamaConfig(), false, 4, 32);
  const int64_t n = input.model.NumParameters();
  input.world_size = 4;
  input.largest_bucket_bytes = 4000;
  input.buckets_in_flight = 2;
  const TrainingMemory stage0 = EstimateTrainingMemory(input);
  EXPECT_EQ(stage0.parameters, 4 * n);
  EXPECT_EQ(stage0.gradients, 4 * n);
  EXPECT_EQ(stage0.optimizer_state, 8 * n);
  EXPECT_EQ(stage0.reference, 0);

  input.zero_stage = 1;
  const TrainingMemory stage1 = EstimateTrainingMemory(input);
  EXPECT_EQ(stage1.gradients, 4 * n);
  EXPECT_EQ(stage1.optimizer_state, 2 * n);  // 8n over 4 ranks
  EXPECT_EQ(stage1.activations, stage0.activations);

  input.zero_stage = 2;
  const TrainingMemory stage2 = EstimateTrainingMemory(input);
  EXPECT_EQ(stage2.gradients, n + 2 * (4000 + 1000));  // the shard; two buckets in flight and their segments
  EXPECT_EQ(stage2.optimizer_state, 2 * n);
  EXPECT_EQ(stage2.working, stage0.working + 4000);  // autograd's gradients of the unreduced bucket

  input.local_reference = true;
  EXPECT_EQ(EstimateTrainingMemory(input).reference, 4 * n);
}

TEST(MemoryModel, CheckpointingAndReferenceChangeOnlyTheirParts) {
  const TrainingMemoryInput plain = Shapes(testing::TinyGpt2Config(), false, 8, 64);
  TrainingMemoryInput checkpointed = plain;
  checkpointed.gradient_checkpointing = true;
  const TrainingMemory a = EstimateTrainingMemory(plain), b = EstimateTrainingMemory(checkpointed);
  EXPECT_LT(b.activations, a.activations / 4);
  EXPECT_GT(b.working, a.working);  // one block is recomputed in backward
  EXPECT_EQ(a.parameters + a.gradients + a.optimizer_state, b.parameters + b.gradients + b.optimizer_state);

  TrainingMemoryInput online = plain;
  online.local_reference = online.reference_in_step = true;
  const TrainingMemory c = EstimateTrainingMemory(online);
  EXPECT_EQ(c.activations, a.activations);
  EXPECT_GE(c.working, a.working);
}

}  // namespace
}  // namespace dpo
