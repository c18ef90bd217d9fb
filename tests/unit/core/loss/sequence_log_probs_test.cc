// SequenceLogProbs against a naive per-token loop over full logits: values, masking, padding
// and batch invariance, chunking, and gradients of the fused output projection.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/loss/fused_linear_log_probs.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "core/model/mixed_precision.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using torch::indexing::Slice;

struct Sequence {
  std::vector<int64_t> prompt;
  std::vector<int64_t> completion;
};

// Right-pads `sequences` to `length` with `pad` and marks completion positions.
std::pair<at::Tensor, at::Tensor> Collate(const std::vector<Sequence>& sequences, int64_t length, int64_t pad) {
  auto ids = torch::full({static_cast<int64_t>(sequences.size()), length}, pad, torch::kLong);
  auto mask = torch::zeros({static_cast<int64_t>(sequences.size()), length}, torch::kBool);
  for (size_t n = 0; n < sequences.size(); ++n) {
    int64_t t = 0;
    for (int64_t id : sequences[n].prompt) ids[n][t++] = id;
    for (int64_t id : sequences[n].completion) {
      mask[n][t] = true;
      ids[n][t++] = id;
    }
  }
  return {ids, mask};
}

// The definition, one token at a time, in float64 from the model's full logits.
std::vector<double> NaiveSums(CausalLm& model, const at::Tensor& ids, const at::Tensor& mask) {
  const auto log_probs = torch::log_softmax(model.Logits(ids).to(torch::kDouble), -1);
  std::vector<double> sums;
  for (int64_t n = 0; n < ids.size(0); ++n) {
    double sum = 0;
    for (int64_t t = 1; t < ids.size(1); ++t) {
      if (mask[n][t].item<bool>()) sum += log_probs[n][t - 1][ids[n][t].item<int64_t>()].item<double>();
    }
    sums.push_back(sum);
  }
  return sums;
}

const std::vector<Sequence> kSequences = {
    {{256, 72, 105}, {32, 116, 104, 101, 114, 101, 257}},
    {{256}, {79, 75, 257}},
    {{256, 1, 2, 3, 4, 5, 6, 7, 8}, {200, 257}},
};

class SequenceLogProbsTest : public ::testing::Test {
 protected:
  std::shared_ptr<CausalLm> model_ = CreateCausalLm(testing::TinyGpt2Config(), 21);
};

TEST_F(SequenceLogProbsTest, MatchesNaiveLoopAndCountsCompletionTokens) {
  torch::NoGradGuard no_grad;
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  const auto result = ComputeSequenceLogProbs(*model_, ids, mask, {/*chunk_tokens=*/4});
  const auto expected = NaiveSums(*model_, ids, mask);
  for (size_t n = 0; n < kSequences.size(); ++n) {
    EXPECT_NEAR(result.sum_log_probs[n].item<double>(), expected[n], 1e-4) << n;
    EXPECT_EQ(result.token_counts[n].item<int64_t>(), static_cast<int64_t>(kSequences[n].completion.size()));
  }
  EXPECT_EQ(result.sum_log_probs.scalar_type(), torch::kFloat);
}

TEST_F(SequenceLogProbsTest, PromptAndPaddingAreExcluded) {
  torch::NoGradGuard no_grad;
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  const double with_mask = ComputeSequenceLogProbs(*model_, ids, mask).sum_log_probs[0].item<double>();
  // Marking every position after the first as scored must change the result: the mask matters.
  auto everything = torch::ones_like(mask);
  everything.index_put_({Slice(), 0}, false);
  const double unmasked = ComputeSequenceLogProbs(*model_, ids, everything).sum_log_probs[0].item<double>();
  EXPECT_LT(unmasked, with_mask - 1.0);
  // Changing the pad id or a padding position's token leaves the result unchanged.
  const auto [ids_other_pad, mask2] = Collate(kSequences, 12, 0);
  EXPECT_TRUE(torch::equal(mask, mask2));
  const auto a = ComputeSequenceLogProbs(*model_, ids, mask).sum_log_probs;
  const auto b = ComputeSequenceLogProbs(*model_, ids_other_pad, mask).sum_log_probs;
  EXPECT_TRUE(torch::allclose(a, b, 0, 1e-6)) << a << b;
}

TEST_F(SequenceLogProbsTest, InvariantToPaddingAmountAndBatchComposition) {
  torch::NoGradGuard no_grad;
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  const auto batched = ComputeSequenceLogProbs(*model_, ids, mask).sum_log_probs;
  for (size_t n = 0; n < kSequences.size(); ++n) {
    const int64_t length = static_cast<int64_t>(kSequences[n].prompt.size() + kSequences[n].completion.size());
    for (int64_t padded : {length, length + 1, length + 23}) {
      const auto [one_ids, one_mask] = Collate({kSequences[n]}, padded, 258);
      const double alone = ComputeSequenceLogProbs(*model_, one_ids, one_mask).sum_log_probs[0].item<double>();
      EXPECT_NEAR(alone, batched[n].item<double>(), 1e-6 * std::max(1.0, std::abs(alone))) << n << " " << padded;
    }
  }
}

TEST_F(SequenceLogProbsTest, ChunkSizeDoesNotChangeResults) {
  torch::NoGradGuard no_grad;
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  const auto reference = ComputeSequenceLogProbs(*model_, ids, mask, {1000});
  for (int64_t chunk : {1, 3, 5}) {
    const auto chunked = ComputeSequenceLogProbs(*model_, ids, mask, {chunk});
    EXPECT_TRUE(torch::allclose(chunked.sum_log_probs, reference.sum_log_probs, 0, 1e-5)) << chunk;
    EXPECT_TRUE(torch::allclose(chunked.sum_mean_logits, reference.sum_mean_logits, 0, 1e-5)) << chunk;
  }
}

TEST_F(SequenceLogProbsTest, MeanLogitsAreOverCompletionTokensOnly) {
  torch::NoGradGuard no_grad;
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  const auto result = ComputeSequenceLogProbs(*model_, ids, mask);
  const auto logits = model_->Logits(ids).to(torch::kDouble);
  for (size_t n = 0; n < kSequences.size(); ++n) {
    double expected = 0;
    for (int64_t t = 1; t < ids.size(1); ++t) {
      if (mask[n][t].item<bool>()) expected += logits[n][t - 1].mean().item<double>();
    }
    EXPECT_NEAR(result.sum_mean_logits[n].item<double>(), expected, 1e-5);
  }
}

TEST_F(SequenceLogProbsTest, RejectsMaskOnFirstPosition) {
  auto [ids, mask] = Collate(kSequences, 12, 258);
  mask[1][0] = true;
  EXPECT_THROW(ComputeSequenceLogProbs(*model_, ids, mask), std::exception);
}

TEST(FusedLinearLogProbs, GradientsMatchPlainAutograd) {
  torch::manual_seed(3);
  const auto hidden = torch::randn({7, 5}, torch::kDouble).requires_grad_(true);
  const auto weight = torch::randn({11, 5}, torch::kDouble).requires_grad_(true);
  const auto targets = torch::randint(0, 11, {7}, torch::kLong);
  const auto upstream = torch::randn({7}, torch::kDouble);

  const auto plain = torch::log_softmax(torch::matmul(hidden, weight.t()), -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  const auto plain_grads = torch::autograd::grad({(plain * upstream).sum()}, {hidden, weight});
  for (int64_t chunk : {1, 3, 100}) {
    const auto [fused, mean_logits] = FusedLinearLogProbs(hidden, weight, targets, chunk);
    EXPECT_TRUE(torch::allclose(fused.to(torch::kDouble), plain, 0, 1e-5)) << chunk;
    EXPECT_FALSE(mean_logits.requires_grad());
    const auto grads = torch::autograd::grad({(fused * upstream.to(torch::kFloat)).sum()}, {hidden, weight});
    EXPECT_TRUE(torch::allclose(grads[0], plain_grads[0], 1e-5, 1e-5)) << chunk;
    EXPECT_TRUE(torch::allclose(grads[1], plain_grads[1], 1e-5, 1e-5)) << chunk;
  }
}

// Under bf16 autocast the fused function must compute what autocast computes for a plain
// Linear + log_softmax: bf16 matmuls, float32 softmax -- in backward too, although autograd runs
// backward outside autocast. Logits of ~+-60 make bf16 rounding of z (~0.25) visible: a backward
// that recomputed z in float32 would normalise with the forward's bf16 lse and be off by ~25%.
TEST(FusedLinearLogProbs, UnderBf16AutocastBackwardUsesTheForwardsPrecision) {
  torch::manual_seed(4);
  const auto hidden = (4 * torch::randn({64, 32})).requires_grad_(true);
  const auto weight = torch::randn({97, 32}).requires_grad_(true);
  const auto targets = torch::randint(0, 97, {64}, torch::kLong);
  const auto upstream = torch::randn({64});

  const auto logits = torch::matmul(hidden.to(torch::kBFloat16), weight.to(torch::kBFloat16).t()).to(torch::kFloat);
  const auto plain = torch::log_softmax(logits, -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  const auto plain_grads = torch::autograd::grad({(plain * upstream).sum()}, {hidden, weight});
  ASSERT_GT(logits.abs().max().item<double>(), 40);

  for (int64_t chunk : {16, 1000}) {
    at::Tensor fused;
    {
      const BfloatAutocastGuard autocast(true);
      fused = FusedLinearLogProbs(hidden, weight, targets, chunk).first;
    }
    EXPECT_TRUE(torch::allclose(fused, plain, 0, 1e-4)) << chunk << ": " << (fused - plain).abs().max();
    const auto grads = torch::autograd::grad({(fused * upstream).sum()}, {hidden, weight});
    for (size_t i = 0; i < 2; ++i) {
      const double scale = plain_grads[i].abs().max().item<double>();
      const double error = (grads[i] - plain_grads[i]).abs().max().item<double>();
      EXPECT_LT(error, 2e-2 * scale) << "chunk " << chunk << ", gradient " << i;
    }
  }
}

TEST_F(SequenceLogProbsTest, ModelGradientsMatchFullLogitsPath) {
  const auto [ids, mask] = Collate(kSequences, 12, 258);
  auto& parameters_owner = model_->module();
  const auto fused = ComputeSequenceLogProbs(*model_, ids, mask, {2}).sum_log_probs.sum();
  const auto parameters = parameters_owner.parameters();
  const auto fused_grads = torch::autograd::grad({fused}, parameters);

  const auto log_probs = torch::log_softmax(model_->Logits(ids).slice(1, 0, -1), -1);
  const auto gathered = log_probs.gather(2, ids.slice(1, 1).unsqueeze(2)).squeeze(2);
  const auto plain = (gathered * mask.slice(1, 1).to(torch::kFloat)).sum();
  const auto plain_grads = torch::autograd::grad({plain}, parameters);
  for (size_t i = 0; i < parameters.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused_grads[i], plain_grads[i], 1e-4, 1e-6)) << i;
  }
}

}  // namespace
}  // namespace dpo
