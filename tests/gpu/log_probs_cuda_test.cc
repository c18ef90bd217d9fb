// The CUDA row kernels of the output projection's log-probs (core/cuda/log_softmax_rows.cu)
// against float64 on the CPU, for each logits dtype, a vocabulary the 16-byte loads divide and
// one they do not; then the whole fused log-prob function on the GPU against plain autograd.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/loss/fused_linear_log_probs.h"
#include "core/loss/row_log_softmax.h"
#include "core/model/mixed_precision.h"

namespace dpo {
namespace {

class RowLogSoftmaxCudaTest : public ::testing::TestWithParam<std::tuple<torch::Dtype, int64_t>> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  }
};

// ||value - expected|| / ||expected|| in float64.
double RelativeError(const at::Tensor& value, const at::Tensor& expected) {
  const auto difference = value.cpu().to(torch::kFloat64) - expected.to(torch::kFloat64);
  return (difference.norm() / expected.to(torch::kFloat64).norm()).item<double>();
}

// One rounding of float32 to the dtype, as a relative norm error bound.
double DtypeTolerance(torch::Dtype dtype) {
  if (dtype == torch::kBFloat16) return 8e-3;
  if (dtype == torch::kHalf) return 1e-3;
  return 1e-5;
}

TEST_P(RowLogSoftmaxCudaTest, StatisticsAndGradientMatchFloat64) {
  const auto [dtype, vocab] = GetParam();
  const int64_t rows = 37;
  torch::manual_seed(vocab);
  // Logits of a trained LM's spread (std 4), rounded to the dtype: both sides see the same values.
  const auto logits = (torch::randn({rows, vocab}) * 4).to(dtype);
  const auto targets = torch::randint(0, vocab, {rows}, torch::kLong);
  const auto grad = torch::randn({rows});
  const auto z = logits.to(torch::kFloat64);
  const auto lse = z.logsumexp(-1);

  const RowLogSoftmaxStats stats = ComputeRowLogSoftmaxStats(logits.cuda(), targets.cuda());
  EXPECT_LT(RelativeError(stats.log_normalisers, lse), 1e-6);
  EXPECT_TRUE(torch::equal(stats.target_logits.cpu(), z.gather(1, targets.unsqueeze(1)).squeeze(1).to(torch::kFloat)));
  EXPECT_LT(RelativeError(stats.mean_logits, z.mean(-1)), 1e-5);

  auto expected = -torch::exp(z - lse.unsqueeze(1)) * grad.to(torch::kFloat64).unsqueeze(1);
  expected.scatter_add_(1, targets.unsqueeze(1), grad.to(torch::kFloat64).unsqueeze(1));
  const at::Tensor device_logits = logits.cuda();
  const at::Tensor gradient =
      RowLogSoftmaxGatherBackward(device_logits.clone(), targets.cuda(), stats.log_normalisers, grad.cuda());
  EXPECT_EQ(gradient.scalar_type(), dtype);
  EXPECT_LT(RelativeError(gradient, expected), DtypeTolerance(dtype));
  // Each row of the gradient sums to grad[r] * (1 - sum_j p_j) = 0: a value left unwritten (still
  // a logit, ~4) would break this by far more than rounding.
  const auto row_sums = gradient.cpu().to(torch::kFloat64).sum(-1);
  EXPECT_LT(row_sums.abs().max().item<double>(), 0.05);
}

INSTANTIATE_TEST_SUITE_P(DtypesAndVocabularies, RowLogSoftmaxCudaTest,
                         ::testing::Combine(::testing::Values(torch::kFloat, torch::kBFloat16, torch::kHalf),
                                            ::testing::Values<int64_t>(128256, 50257, 7)));

TEST(RowLogSoftmaxCudaEdgeTest, ATargetOutsideTheVocabularyGivesNaN) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  const auto logits = torch::randn({2, 64}, torch::kCUDA);
  const auto targets = torch::tensor({3, 64}, torch::kLong).cuda();
  const auto stats = ComputeRowLogSoftmaxStats(logits, targets).target_logits.cpu();
  EXPECT_FALSE(std::isnan(stats[0].item<float>()));
  EXPECT_TRUE(std::isnan(stats[1].item<float>()));
}

// FusedLinearLogProbs on the GPU, float32 (TF32 off) and bf16 autocast, against log_softmax of
// the full logits in float64 and its autograd gradients.
TEST(FusedLinearLogProbsCudaTest, ValuesAndGradientsMatchPlainAutogradInFloat64) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  at::globalContext().setAllowTF32CuBLAS(false);
  torch::manual_seed(5);
  const int64_t rows = 300, width = 64, vocab = 1000;
  const auto hidden = torch::randn({rows, width});
  const auto weight = torch::randn({vocab, width}) * 0.2;
  const auto targets = torch::randint(0, vocab, {rows}, torch::kLong);
  const auto upstream = torch::randn({rows});

  auto hidden64 = hidden.to(torch::kFloat64).requires_grad_();
  auto weight64 = weight.to(torch::kFloat64).requires_grad_();
  const auto expected = torch::log_softmax(torch::matmul(hidden64, weight64.t()), -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  (expected * upstream.to(torch::kFloat64)).sum().backward();

  for (const bool bf16 : {false, true}) {
    auto h = hidden.cuda().requires_grad_();
    auto w = weight.cuda().requires_grad_();
    at::Tensor log_probs;
    {
      BfloatAutocastGuard autocast(bf16);
      log_probs = FusedLinearLogProbs(h, w, targets.cuda(), /*chunk_tokens=*/128).first;
    }
    (log_probs * upstream.cuda()).sum().backward();
    const double tolerance = bf16 ? 2e-2 : 1e-5;
    EXPECT_LT(RelativeError(log_probs, expected.detach()), tolerance) << (bf16 ? "bf16" : "fp32");
    EXPECT_LT(RelativeError(h.grad(), hidden64.grad()), tolerance) << (bf16 ? "bf16" : "fp32");
    EXPECT_LT(RelativeError(w.grad(), weight64.grad()), tolerance) << (bf16 ? "bf16" : "fp32");
    EXPECT_EQ(w.grad().scalar_type(), torch::kFloat);
  }
}

}  // namespace
}  // namespace dpo
