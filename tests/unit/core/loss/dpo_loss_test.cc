// The DPO loss family against golden values from an independent implementation
// (tests/fixtures/losses/make_loss_golden.py), finite-difference gradients, extreme margins and
// option validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/loss/dpo_loss.h"
#include "core/loss/pair_metrics.h"

namespace dpo {
namespace {

at::Tensor DoubleTensor(const nlohmann::json& values) {
  return torch::tensor(values.get<std::vector<double>>(), torch::kDouble);
}

at::Tensor CountTensor(const nlohmann::json& values) {
  return torch::tensor(values.get<std::vector<int64_t>>(), torch::kLong);
}

PairLogProbs CaseInputs(const nlohmann::json& c) {
  return {DoubleTensor(c["policy_chosen_log_probs"]),   DoubleTensor(c["policy_rejected_log_probs"]),
          DoubleTensor(c["reference_chosen_log_probs"]), DoubleTensor(c["reference_rejected_log_probs"]),
          CountTensor(c["chosen_token_counts"]),         CountTensor(c["rejected_token_counts"])};
}

LossOptions CaseOptions(const nlohmann::json& c, const std::vector<std::string>& types) {
  LossOptions options;
  options.loss_type = types;
  options.beta = c["beta"];
  options.label_smoothing = c["label_smoothing"];
  options.simpo_gamma = c["simpo_gamma"];
  options.discopop_tau = c["discopop_tau"];
  return options;
}

const nlohmann::json& Golden() {
  static const nlohmann::json golden =
      nlohmann::json::parse(ReadFile(std::string(DPO_FIXTURES_DIR) + "/losses/loss_golden.json"));
  return golden;
}

double Relative(double value) { return 1e-9 * std::max(1.0, std::abs(value)); }

TEST(DpoLossGolden, EveryLossTypeMatchesIndependentImplementation) {
  std::set<std::string> covered;
  for (const auto& c : Golden()["cases"]) {
    const PairLogProbs inputs = CaseInputs(c);
    for (const auto& [name, expected] : c["losses"].items()) {
      const DpoLoss loss(CaseOptions(c, {name}));
      const double value = loss.Compute(inputs, DpoLoss::BatchNormalizer(inputs)).item<double>();
      EXPECT_NEAR(value, expected.get<double>(), Relative(expected)) << c["name"] << " " << name;
      covered.insert(name);
    }
  }
  EXPECT_EQ(covered.size(), 16u) << "every loss type needs golden values (supported: " << SupportedLossTypes() << ")";
}

TEST(DpoLossGolden, RpoAddsAlphaTimesChosenNll) {
  for (const auto& c : Golden()["cases"]) {
    if (!c["losses"].contains("sigmoid") || c["rpo_alpha"].get<double>() <= 0) continue;
    const PairLogProbs inputs = CaseInputs(c);
    LossOptions options = CaseOptions(c, {"sigmoid"});
    options.rpo_alpha = c["rpo_alpha"];
    const double value = DpoLoss(options).Compute(inputs, DpoLoss::BatchNormalizer(inputs)).item<double>();
    const double expected = c["losses"]["sigmoid"].get<double>() + c["rpo_term"].get<double>();
    EXPECT_NEAR(value, expected, Relative(expected)) << c["name"];
  }
}

TEST(DpoLossGolden, WeightedCombinationIsTheWeightedSum) {
  const auto& c = Golden()["cases"][0];
  const PairLogProbs inputs = CaseInputs(c);
  LossOptions options = CaseOptions(c, {"sigmoid", "sft", "hinge"});
  options.loss_weights = {1.0, 0.25, 2.0};
  const double value = DpoLoss(options).Compute(inputs, DpoLoss::BatchNormalizer(inputs)).item<double>();
  const double expected = c["losses"]["sigmoid"].get<double>() + 0.25 * c["losses"]["sft"].get<double>() +
                          2.0 * c["losses"]["hinge"].get<double>();
  EXPECT_NEAR(value, expected, Relative(expected));
}

TEST(DpoLossGolden, PairMetricsMatch) {
  for (const auto& c : Golden()["cases"]) {
    const PairLogProbs inputs = CaseInputs(c);
    const auto means = ComputePairMetricSums(c["beta"], inputs, {}, {}).Means();
    for (const auto& [key, expected] : c["metrics"].items()) {
      EXPECT_NEAR(means.at(key), expected.get<double>(), Relative(expected)) << c["name"] << " " << key;
    }
  }
}

TEST(DpoLoss, PolicyEqualsReferenceGivesLn2) {
  const auto log_probs = torch::tensor({-12.5, -3.0, -40.25}, torch::kDouble);
  const auto counts = torch::tensor({5, 2, 9}, torch::kLong);
  const PairLogProbs inputs{log_probs, log_probs * 1.5, log_probs, log_probs * 1.5, counts, counts};
  const DpoLoss loss(LossOptions{});
  EXPECT_DOUBLE_EQ(loss.Compute(inputs, DpoLoss::BatchNormalizer(inputs)).item<double>(), std::log(2.0));
  const auto means = ComputePairMetricSums(0.1, inputs, {}, {}).Means();
  EXPECT_EQ(means.at("rewards/chosen"), 0.0);
  EXPECT_EQ(means.at("rewards/margins"), 0.0);
  EXPECT_EQ(means.at("rewards/accuracies"), 0.0);
}

TEST(DpoLoss, NormalizerSplitsTheMeanAcrossMicroBatches) {
  const auto& c = Golden()["cases"][0];
  const PairLogProbs all = CaseInputs(c);
  const DpoLoss loss(CaseOptions(c, {"sigmoid", "sft"}));
  const LossNormalizer global = DpoLoss::BatchNormalizer(all);
  const double whole = loss.Compute(all, global).item<double>();
  double parts = 0;
  const int64_t b = all.policy_chosen_log_probs.size(0);
  for (int64_t start = 0; start < b; start += 2) {
    const int64_t end = std::min(b, start + 2);
    auto slice = [&](const at::Tensor& t) { return t.slice(0, start, end); };
    const PairLogProbs part{slice(all.policy_chosen_log_probs),     slice(all.policy_rejected_log_probs),
                            slice(all.reference_chosen_log_probs),  slice(all.reference_rejected_log_probs),
                            slice(all.chosen_token_counts),         slice(all.rejected_token_counts)};
    parts += loss.Compute(part, global).item<double>();
  }
  EXPECT_NEAR(parts, whole, 1e-12);
}

// Gradient of `value` w.r.t. `variable`; zeros where the loss does not depend on it (sft
// ignores the rejected completions).
at::Tensor GradientOrZeros(const at::Tensor& value, const at::Tensor& variable) {
  if (!value.requires_grad()) return torch::zeros_like(variable);
  const auto grad = torch::autograd::grad({value}, {variable}, {}, /*retain_graph=*/true, false, /*allow_unused=*/true)[0];
  return grad.defined() ? grad : torch::zeros_like(variable);
}

// d loss / d policy log-probs by autograd vs central differences, for every type. The inputs are
// random (no ties: aot's sorts are not differentiable where two margins are equal).
TEST(DpoLossGradients, MatchFiniteDifferences) {
  const auto& c = Golden()["cases"][0];
  torch::manual_seed(5);
  const int64_t b = 6;
  const PairLogProbs random_inputs{-20 * torch::rand({b}, torch::kDouble), -20 * torch::rand({b}, torch::kDouble),
                                   -20 * torch::rand({b}, torch::kDouble), -20 * torch::rand({b}, torch::kDouble),
                                   torch::randint(1, 9, {b}, torch::kLong),  torch::randint(1, 9, {b}, torch::kLong)};
  for (const auto& [name, unused] : c["losses"].items()) {
    const DpoLoss loss(CaseOptions(c, {name}));
    PairLogProbs inputs = random_inputs;
    const LossNormalizer normalizer = DpoLoss::BatchNormalizer(inputs);
    for (at::Tensor* variable : {&inputs.policy_chosen_log_probs, &inputs.policy_rejected_log_probs}) {
      *variable = variable->detach().clone().requires_grad_(true);
      const auto grad = GradientOrZeros(loss.Compute(inputs, normalizer), *variable);
      const double h = 1e-6;
      for (int64_t i = 0; i < variable->size(0); ++i) {
        const at::Tensor base = variable->detach().clone();
        PairLogProbs shifted = inputs;
        at::Tensor* target = variable == &inputs.policy_chosen_log_probs ? &shifted.policy_chosen_log_probs
                                                                         : &shifted.policy_rejected_log_probs;
        *target = base.clone();
        (*target)[i] += h;
        const double up = loss.Compute(shifted, normalizer).item<double>();
        *target = base.clone();
        (*target)[i] -= h;
        const double down = loss.Compute(shifted, normalizer).item<double>();
        const double numeric = (up - down) / (2 * h);
        EXPECT_NEAR(grad[i].item<double>(), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << name << " element " << i;
      }
      *variable = variable->detach();
    }
  }
}

TEST(DpoLossGradients, SigmoidGradientWeightsWronglyRankedPairs) {
  // d loss / d policy_chosen = -b sig(-bD) / B (docs/losses.md, "Invariants the tests check").
  const double b = 0.1;
  const auto chosen = torch::tensor({-10.0, -20.0, -5.0}, torch::kDouble).requires_grad_(true);
  const auto rejected = torch::tensor({-12.0, -8.0, -5.0}, torch::kDouble);
  const auto zeros = torch::zeros({3}, torch::kDouble);
  const auto counts = torch::ones({3}, torch::kLong);
  const PairLogProbs inputs{chosen, rejected, zeros, zeros, counts, counts};
  LossOptions options;
  options.beta = b;
  const DpoLoss loss(options);
  const auto grad = torch::autograd::grad({loss.Compute(inputs, DpoLoss::BatchNormalizer(inputs))}, {chosen})[0];
  const auto expected = -b * torch::sigmoid(-b * (chosen.detach() - rejected)) / 3.0;
  EXPECT_TRUE(torch::allclose(grad, expected, 1e-12, 1e-14));
  EXPECT_GT(grad[1].item<double>(), -b / 3.0);  // the wrongly ranked pair gets the largest push
  EXPECT_LT(grad[1].item<double>(), grad[0].item<double>());
}

TEST(DpoLossGradients, ExtremeMarginsStayFinite) {
  for (double margin : {1e3, -1e3}) {
    for (const char* name : {"sigmoid", "robust", "hinge", "ipo", "exo_pair", "nca_pair", "bco_pair",
                                    "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop",
                                    "sigmoid_norm", "sft", "simpo"}) {
      LossOptions options;
      options.loss_type = {name};
      options.beta = 1.0;
      options.label_smoothing = 0.1;
      const DpoLoss loss(options);
      for (auto dtype : {torch::kFloat, torch::kDouble}) {
        const auto chosen = torch::tensor({margin / 2, -3.0}, dtype).requires_grad_(true);
        const auto rejected = torch::tensor({-margin / 2, -3.5}, dtype).requires_grad_(true);
        const auto zeros = torch::zeros({2}, dtype);
        const auto counts = torch::ones({2}, torch::kLong);
        const PairLogProbs inputs{chosen, rejected, zeros, zeros, counts, counts};
        const auto value = loss.Compute(inputs, DpoLoss::BatchNormalizer(inputs));
        EXPECT_TRUE(std::isfinite(value.item<double>())) << name << " " << margin;
        EXPECT_TRUE(torch::isfinite(GradientOrZeros(value, chosen)).all().item<bool>()) << name << " " << margin;
        EXPECT_TRUE(torch::isfinite(GradientOrZeros(value, rejected)).all().item<bool>()) << name << " " << margin;
      }
    }
  }
}

struct InvalidOptionsCase {
  const char* label;
  LossOptions options;
  std::string message;
};

TEST(LossOptions, InvalidCombinationsAreClearErrors) {
  auto with = [](std::vector<std::string> types, double beta, double eps, std::vector<double> weights = {}) {
    LossOptions options;
    options.loss_type = std::move(types);
    options.beta = beta;
    options.label_smoothing = eps;
    options.loss_weights = std::move(weights);
    return options;
  };
  const std::vector<InvalidOptionsCase> cases = {
      {"beta zero", with({"sigmoid"}, 0.0, 0.0), "invalid loss configuration:\n  training.beta=0 must be > 0"},
      {"eps half for sigmoid", with({"sigmoid"}, 0.1, 0.5),
       "invalid loss configuration:\n  training.label_smoothing=0.5 must be in [0, 0.5) for loss_type sigmoid"},
      {"eps negative", with({"hinge"}, 0.1, -0.1),
       "invalid loss configuration:\n  training.label_smoothing=-0.1 must be in [0, 1)"},
      {"exo without eps", with({"exo_pair"}, 0.1, 0.0),
       "invalid loss configuration:\n  training.label_smoothing=0 must be > 0 for loss_type exo_pair (1e-3 is typical)"},
      {"unknown", with({"dpo"}, 0.1, 0.0),
       "invalid loss configuration:\n  training.loss_type \"dpo\" is unknown (supported: " + SupportedLossTypes() + ")"},
      {"weights", with({"sigmoid", "sft"}, -1.0, 0.0, {1.0}),
       "invalid loss configuration:\n  training.loss_weights has 1 values but training.loss_type has 2\n"
       "  training.beta=-1 must be > 0"},
  };
  for (const auto& c : cases) {
    try {
      DpoLoss loss(c.options);
      ADD_FAILURE() << c.label << ": expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.label;
      EXPECT_EQ(std::string(e.what()), c.message) << c.label;
    }
  }
}

TEST(LossOptions, ReferenceNeedsFollowTheTypes) {
  LossOptions options;
  options.loss_type = {"simpo", "sft"};
  EXPECT_FALSE(DpoLoss(options).needs_reference());
  options.loss_type = {"simpo", "ipo"};
  EXPECT_TRUE(DpoLoss(options).needs_reference());
}

}  // namespace
}  // namespace dpo
