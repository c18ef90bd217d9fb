// PreferenceStep: a precomputed reference table gives the same step as scoring the reference
// online, in float32 and under bf16 autocast (both modes must score it in the same precision).
#include "trainer/loop/preference_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {
namespace {

std::vector<TokenizedPair> RandomPairs(int64_t count, uint64_t seed) {
  const at::Tensor ids = testing::RandomTokenIds(count, 30, seed);
  std::vector<TokenizedPair> pairs;
  for (int64_t i = 0; i < count; ++i) {
    const auto row = ids[i];
    auto take = [&](int64_t from, int64_t to) {
      std::vector<TokenId> out;
      for (int64_t t = from; t < to; ++t) out.push_back(row[t].item<int64_t>());
      return out;
    };
    // Uneven lengths: padding inside each micro-batch.
    pairs.push_back({take(0, 6 + i % 3), take(10, 18 + i % 5), take(20, 24 + i % 4), i + 1});
    pairs.back().prompt_ids[0] = 256;  // BOS
  }
  return pairs;
}

// The loss of one step over all pairs in micro-batches of `batch`, with or without a table.
double StepLoss(bool bf16, bool precompute) {
  const auto policy = CreateCausalLm(testing::TinyGpt2Config(), 1);
  LocalReferenceScorer reference(CreateCausalLm(testing::TinyGpt2Config(), 2), "reference", {});
  const DpoLoss loss(LossOptions{});
  PreferenceStep step(*policy, &reference, loss, /*pad_id=*/258, {}, bf16);
  const auto pairs = RandomPairs(6, 9);
  std::optional<PrecomputedReference> table;
  if (precompute) table = step.PrecomputeReference(pairs, 3);
  StepTotals totals;
  for (const std::vector<int64_t>& micro : {std::vector<int64_t>{0, 1, 2}, std::vector<int64_t>{3, 4, 5}}) {
    step.Run(pairs, micro, PreferenceStep::NormalizerFor(pairs, {0, 1, 2, 3, 4, 5}), table ? &*table : nullptr,
             /*backward=*/false, totals);
  }
  return totals.loss;
}

TEST(PreferenceStepTest, PrecomputedReferenceEqualsOnlineInFloat32AndBf16) {
  for (const bool bf16 : {false, true}) {
    const double online = StepLoss(bf16, false), precomputed = StepLoss(bf16, true);
    EXPECT_NEAR(precomputed, online, 1e-6) << (bf16 ? "bf16" : "float32");
    EXPECT_GT(std::abs(online - std::log(2.0)), 1e-4);  // policy and reference differ: the reference matters
  }
  // bf16 is really in use: its loss differs from float32's.
  EXPECT_GT(std::abs(StepLoss(true, false) - StepLoss(false, false)), 1e-6);
}

}  // namespace
}  // namespace dpo
