// WeightDecayGroups: matrices and embeddings decay, biases and norm weights do not; with no
// decay the optimizer keeps one group; a step decays exactly the decayed group.
#include "core/optim/weight_decay_groups.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/optim/fused_adamw.h"

namespace dpo {
namespace {

TEST(WeightDecayGroups, SplitsByDimensionOnlyWhenThereIsDecay) {
  const std::vector<at::Tensor> parameters = {torch::ones({4, 3}), torch::ones({3}), torch::ones({10, 4}),
                                              torch::ones({4})};
  const auto groups = WeightDecayGroups(parameters, torch::optim::AdamWOptions(1e-3).weight_decay(0.1));
  ASSERT_EQ(groups.size(), 2u);
  ASSERT_EQ(groups[0].params().size(), 2u);
  EXPECT_TRUE(groups[0].params()[0].is_same(parameters[0]));
  EXPECT_TRUE(groups[0].params()[1].is_same(parameters[2]));
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(groups[0].options()).weight_decay(), 0.1);
  ASSERT_EQ(groups[1].params().size(), 2u);
  EXPECT_TRUE(groups[1].params()[0].is_same(parameters[1]));
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(groups[1].options()).weight_decay(), 0.0);
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(groups[1].options()).lr(), 1e-3);

  EXPECT_EQ(WeightDecayGroups(parameters, torch::optim::AdamWOptions(1e-3).weight_decay(0)).size(), 1u);
  EXPECT_EQ(WeightDecayGroups({torch::ones({3})}, torch::optim::AdamWOptions(1e-3).weight_decay(0.1)).size(), 1u);
}

TEST(WeightDecayGroups, AStepDecaysMatricesButNotBiases) {
  // Zero gradients: the only change a step makes is the decay p *= 1 - lr * weight_decay.
  at::Tensor matrix = torch::full({2, 2}, 2.0).requires_grad_(true);
  at::Tensor bias = torch::full({2}, 2.0).requires_grad_(true);
  const auto options = torch::optim::AdamWOptions(0.5).weight_decay(0.1);
  FusedAdamW optimizer(WeightDecayGroups({matrix, bias}, options), options);
  matrix.mutable_grad() = torch::zeros_like(matrix);
  bias.mutable_grad() = torch::zeros_like(bias);
  optimizer.step();
  EXPECT_TRUE(torch::allclose(matrix.detach(), torch::full({2, 2}, 2.0 * (1 - 0.5 * 0.1))));
  EXPECT_TRUE(torch::equal(bias.detach(), torch::full({2}, 2.0)));
}

}  // namespace
}  // namespace dpo
