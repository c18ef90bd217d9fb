// FusedAdamW against AdamW written out in float64, against LibTorch's unfused AdamW, and across
// a save/load of the unfused optimizer's state.
#include "core/optim/fused_adamw.h"

#include <torch/torch.h>

#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "core/common/error.h"

namespace dpo {
namespace {

using torch::optim::AdamWOptions;

// Parameters of two shapes and dtype float32, drawn from `seed`.
std::vector<at::Tensor> MakeParameters(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({7, 5}).requires_grad_(), torch::randn({13}).requires_grad_()};
}

// Gradients for step `t`: fresh random values, the same for every optimizer given the same t.
void SetGradients(std::vector<at::Tensor>& params, int64_t t) {
  torch::manual_seed(1000 + t);
  for (auto& p : params) p.mutable_grad() = torch::randn_like(p) * (t % 2 == 0 ? 3.0 : 0.5);
}

// AdamW of one tensor in float64: the textbook update with decoupled weight decay.
struct ReferenceAdamW {
  double lr, beta1, beta2, eps, weight_decay;
  at::Tensor p, m, v;
  int64_t t = 0;

  void Step(const at::Tensor& grad) {
    const auto g = grad.to(torch::kFloat64);
    t += 1;
    p = p * (1 - lr * weight_decay);
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    const double bias1 = 1 - std::pow(beta1, t), bias2 = 1 - std::pow(beta2, t);
    p = p - lr / bias1 * m / ((v.sqrt() / std::sqrt(bias2)) + eps);
  }
};

double MaxRelativeError(const at::Tensor& value, const at::Tensor& expected) {
  return ((value.to(torch::kFloat64) - expected).abs() / (expected.abs() + 1e-6)).max().item<double>();
}

TEST(FusedAdamWTest, FollowsTheAdamWFormulaOverSeveralSteps) {
  auto params = MakeParameters(1);
  std::vector<at::Tensor> initial;
  for (const auto& p : params) initial.push_back(p.detach().clone());
  const AdamWOptions options = AdamWOptions(0.05).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.2);
  FusedAdamW optimizer(params, options);
  std::vector<ReferenceAdamW> references;
  for (const auto& p : params) {
    const auto p64 = p.detach().to(torch::kFloat64);
    references.push_back({0.05, 0.8, 0.95, 1e-6, 0.2, p64, torch::zeros_like(p64), torch::zeros_like(p64)});
  }
  for (int64_t t = 1; t <= 6; ++t) {
    SetGradients(params, t);
    optimizer.step();
    for (size_t i = 0; i < params.size(); ++i) references[i].Step(params[i].grad());
  }
  for (size_t i = 0; i < params.size(); ++i) {
    // Six steps of lr 0.05 move each weight by ~0.3: an error in the bias correction or the
    // decay would show far above this bound.
    EXPECT_LT(MaxRelativeError(params[i].detach(), references[i].p), 1e-5) << "parameter " << i;
    EXPECT_GT((params[i].detach() - initial[i]).abs().max().item<double>(), 0.1) << "parameter " << i;
  }
}

TEST(FusedAdamWTest, AgreesWithTheUnfusedOptimizerWithAmsgrad) {
  auto fused_params = MakeParameters(2);
  auto plain_params = MakeParameters(2);
  const AdamWOptions options = AdamWOptions(0.01).weight_decay(0.1).amsgrad(true);
  FusedAdamW fused(fused_params, options);
  torch::optim::AdamW plain(plain_params, options);
  for (int64_t t = 1; t <= 5; ++t) {
    SetGradients(fused_params, t);
    SetGradients(plain_params, t);
    fused.step();
    plain.step();
  }
  for (size_t i = 0; i < fused_params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused_params[i], plain_params[i], /*rtol=*/1e-6, /*atol=*/1e-7)) << "parameter " << i;
    const auto key = fused_params[i].unsafeGetTensorImpl();
    const auto& state = static_cast<const torch::optim::AdamWParamState&>(*fused.state().at(key));
    EXPECT_EQ(state.step(), 5);
    EXPECT_TRUE(state.max_exp_avg_sq().defined());
  }
}

TEST(FusedAdamWTest, LeavesParametersWithoutGradientsAlone) {
  auto params = MakeParameters(3);
  FusedAdamW optimizer(params, AdamWOptions(0.1).weight_decay(0.5));
  const auto untouched = params[1].detach().clone();
  params[0].mutable_grad() = torch::ones_like(params[0]);
  optimizer.step();
  EXPECT_TRUE(torch::equal(params[1], untouched));
  EXPECT_EQ(optimizer.state().count(params[1].unsafeGetTensorImpl()), 0u);
  EXPECT_EQ(optimizer.state().count(params[0].unsafeGetTensorImpl()), 1u);
}

// A checkpoint written by the unfused optimizer resumes in the fused one: the moments and the
// step count (hence the bias correction) carry over.
TEST(FusedAdamWTest, ResumesFromTheUnfusedOptimizersSavedState) {
  auto plain_params = MakeParameters(4);
  const AdamWOptions options = AdamWOptions(0.02).weight_decay(0.1);
  torch::optim::AdamW plain(plain_params, options);
  for (int64_t t = 1; t <= 3; ++t) {
    SetGradients(plain_params, t);
    plain.step();
  }
  std::stringstream saved;
  torch::save(plain, saved);

  auto fused_params = MakeParameters(99);
  {
    const torch::NoGradGuard no_grad;
    for (size_t i = 0; i < fused_params.size(); ++i) fused_params[i].copy_(plain_params[i]);
  }
  FusedAdamW fused(fused_params, options);
  SetGradients(fused_params, 1);
  fused.step();  // its counters now say 1; the load below must replace them
  {
    const torch::NoGradGuard no_grad;
    for (size_t i = 0; i < fused_params.size(); ++i) fused_params[i].copy_(plain_params[i]);
  }
  torch::load(fused, saved);
  for (int64_t t = 4; t <= 5; ++t) {
    SetGradients(plain_params, t);
    SetGradients(fused_params, t);
    plain.step();
    fused.step();
  }
  for (size_t i = 0; i < fused_params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused_params[i], plain_params[i], 1e-6, 1e-7)) << "parameter " << i;
    const auto& state =
        static_cast<const torch::optim::AdamWParamState&>(*fused.state().at(fused_params[i].unsafeGetTensorImpl()));
    EXPECT_EQ(state.step(), 5);
  }
}

TEST(FusedAdamWTest, RefusesSparseGradients) {
  auto weight = torch::randn({4, 3}).requires_grad_();
  FusedAdamW optimizer({weight}, AdamWOptions(0.1));
  weight.mutable_grad() = torch::eye(4, 3).to_sparse();
  try {
    optimizer.step();
    FAIL() << "a sparse gradient was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("sparse gradient"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dpo
