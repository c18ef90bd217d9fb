// PreferenceStep with a PrecomputedReferenceScorer gives the same step as scoring the reference
// online, in float32 and under bf16 autocast (both modes must score it in the same precision),
// and asks the inner scorer nothing once the table holds the pairs.
#include "trainer/loop/preference_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <torch/torch.h>

#include "core/data/batch.h"
#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"
#include "trainer/reference/precomputed_reference_scorer.h"
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

// Counts the batches it scores, then asks the local reference.
class CountingScorer final : public ReferenceScorer {
 public:
  explicit CountingScorer(ReferenceScorer& inner) : inner_(inner) {}
  at::Tensor Score(const SequenceBatch& batch) override {
    ++calls;
    return inner_.Score(batch);
  }
  std::string Fingerprint() const override { return inner_.Fingerprint(); }
  int calls = 0;

 private:
  ReferenceScorer& inner_;
};

// The loss of one step over all pairs in micro-batches of 3, with or without a table.
double StepLoss(bool bf16, bool precompute) {
  const auto policy = CreateCausalLm(testing::TinyGpt2Config(), 1);
  LocalReferenceScorer local(CreateCausalLm(testing::TinyGpt2Config(), 2), "reference", {});
  CountingScorer counting(local);
  const DpoLoss loss(LossOptions{});
  const auto pairs = RandomPairs(6, 9);
  std::optional<PrecomputedReferenceScorer> table;
  if (precompute) {
    table.emplace(counting, pairs, 3, /*pad_id=*/258, bf16);
    EXPECT_EQ(counting.calls, 2);         // two fixed batches of 3 pairs
    EXPECT_EQ(table->size(), 12);         // 6 chosen + 6 rejected sequences, all distinct
  }
  ReferenceScorer* reference = precompute ? static_cast<ReferenceScorer*>(&*table) : &counting;
  PreferenceStep step(*policy, reference, loss, /*pad_id=*/258, {}, bf16);
  const int calls_before = counting.calls;
  StepTotals totals;
  for (const std::vector<int64_t>& micro : {std::vector<int64_t>{0, 1, 2}, std::vector<int64_t>{3, 4, 5}}) {
    step.Run(pairs, micro, PreferenceStep::NormalizerFor(pairs, {0, 1, 2, 3, 4, 5}), /*backward=*/false, totals);
  }
  EXPECT_EQ(counting.calls - calls_before, precompute ? 0 : 2);  // the table answers every row
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

TEST(PreferenceStepTest, PrecomputedScorerSendsUnknownSequencesToItsInnerScorer) {
  LocalReferenceScorer local(CreateCausalLm(testing::TinyGpt2Config(), 2), "reference", {});
  CountingScorer counting(local);
  const auto pairs = RandomPairs(6, 9);
  const std::vector<TokenizedPair> train(pairs.begin(), pairs.begin() + 3);
  PrecomputedReferenceScorer table(counting, train, 3, /*pad_id=*/258, /*bf16_autocast=*/false);
  EXPECT_EQ(table.Fingerprint(), "reference");
  // Pairs 2 (in the table) and 4 (not): one inner call; each row equals the local score.
  const SequenceBatch batch = CollatePairs({&pairs[2], &pairs[4]}, 258);
  const int calls_before = counting.calls;
  const at::Tensor scored = table.Score(batch);
  EXPECT_EQ(counting.calls - calls_before, 1);
  EXPECT_TRUE(torch::allclose(scored, local.Score(batch), 1e-5, 1e-5)) << scored << local.Score(batch);
  // A batch of held sequences only: no inner call.
  table.Score(CollatePairs({&pairs[0], &pairs[1]}, 258));
  EXPECT_EQ(counting.calls - calls_before, 1);
}

}  // namespace
}  // namespace dpo
