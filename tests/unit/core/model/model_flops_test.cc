// The FLOP counter against the models themselves: the block matmul weights it counts are the 2-D
// weights of a built model's blocks, and the step total follows from the per-pass counts.
#include "core/model/model_flops.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// Sum of numel over the 2-D weights inside the transformer blocks of a built model (names with a
// layer index), excluding embeddings, norms and biases.
int64_t BlockWeightsOfBuiltModel(const ModelConfig& config) {
  const auto model = CreateCausalLm(config, 1);
  int64_t total = 0;
  for (const auto& [name, tensor] : model->HfStateDict()) {
    const bool in_block = name.rfind("h.", 0) == 0 || name.find(".h.") != std::string::npos ||
                          name.find(".layers.") != std::string::npos;
    if (in_block && tensor.dim() == 2) total += tensor.numel();
  }
  return total;
}

TEST(ModelFlops, BlockMatmulParametersAreTheBlocksWeights) {
  ModelConfig llama = testing::TinyLlamaConfig();
  llama.num_kv_heads = 2;  // grouped-query attention: k and v are narrower than q
  ASSERT_NE(llama.KvHeads(), llama.num_heads);
  for (const ModelConfig& config : {testing::TinyGpt2Config(), llama}) {
    EXPECT_EQ(BlockMatmulParameters(config), BlockWeightsOfBuiltModel(config)) << config.model_type;
  }
}

TEST(ModelFlops, StepCountsThreePolicyPassesAndOneReferencePass) {
  const ModelConfig config = testing::TinyLlamaConfig();
  const ForwardMacs one = SequenceForwardMacs(config, 40, 25);
  EXPECT_DOUBLE_EQ(one.blocks, 40.0 * static_cast<double>(BlockMatmulParameters(config)));
  // Causal attention: half of the 40 x 40 score grid, for q k^T and p v, in every layer.
  EXPECT_DOUBLE_EQ(one.attention, static_cast<double>(config.num_layers) * 40 * 40 *
                                      static_cast<double>(config.num_heads * config.HeadSize()));
  EXPECT_DOUBLE_EQ(one.output_projection, 25.0 * static_cast<double>(config.hidden_size * config.vocab_size));
  const StepFlops online = DpoStepFlops(config, 6, 40, 25, true);
  const StepFlops precomputed = DpoStepFlops(config, 6, 40, 25, false);
  EXPECT_DOUBLE_EQ(online.policy, 3 * 2 * 6 * one.Total());
  EXPECT_DOUBLE_EQ(online.reference, 2 * 6 * one.Total());
  EXPECT_DOUBLE_EQ(precomputed.policy, online.policy);
  EXPECT_EQ(precomputed.reference, 0);
}

}  // namespace
}  // namespace dpo
