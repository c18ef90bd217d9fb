// TrainStep on one rank: the step equals gradients -> clip -> AdamW done by hand, a reference
// failure comes back as a value with nothing applied, and a non-finite loss skips the update.
#include "trainer/loop/train_step.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/model/causal_lm.h"
#include "core/optim/fused_adamw.h"
#include "core/optim/lr_schedule.h"
#include "tests/support/test_support.h"
#include "trainer/comm/communicator.h"
#include "trainer/reference/reference_scorer.h"
#include "trainer/zero/replicated_optimizer.h"

namespace dpo {
namespace {

constexpr TokenId kPad = 258;

std::vector<TokenizedPair> Pairs(int64_t count) {
  const at::Tensor ids = testing::RandomTokenIds(count, 24, 5);
  std::vector<TokenizedPair> pairs;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<TokenId> row(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 24);
    pairs.push_back({{256, row[0], row[1], row[2]}, {row[3], row[4], row[5 + i % 3]}, {row[9], row[10]}, i + 1});
  }
  return pairs;
}

// Scores with a frozen model, or fails like an unreachable server.
class TestReference final : public ReferenceScorer {
 public:
  explicit TestReference(std::shared_ptr<CausalLm> model) : local_(std::move(model), "ref", {}) {}
  at::Tensor Score(const SequenceBatch& batch) override {
    if (fail) throw Error(ErrorKind::kReferenceUnavailable, "reference server down");
    return local_.Score(batch);
  }
  std::string Fingerprint() const override { return "ref"; }
  bool fail = false;

 private:
  LocalReferenceScorer local_;
};

DataParallelOptions AdamW() {
  DataParallelOptions options;
  options.learning_rate = 1e-2;
  options.weight_decay = 0.1;
  return options;
}

struct Fixture {
  std::shared_ptr<CausalLm> policy = CreateCausalLm(testing::TinyGpt2Config(), 1);
  TestReference reference{CreateCausalLm(testing::TinyGpt2Config(), 2)};
  DpoLoss loss{LossOptions{}};
  PreferenceStep micro_batches{*policy, &reference, loss, kPad, {}};
  std::vector<TokenizedPair> pairs = Pairs(4);
  SingleProcessCommunicator communicator;
  ReplicatedOptimizer optimizer{communicator, policy->module().parameters(), AdamW()};
  LrSchedule schedule{LrSchedulerKind::kLinear, 1e-2, /*warmup_steps=*/0, /*total_steps=*/4};
  std::unique_ptr<TrainStep> step;

  explicit Fixture(double max_grad_norm) {
    TrainStepParts parts;
    parts.micro_batches = &micro_batches;
    parts.pairs = &pairs;
    parts.optimizer = &optimizer;
    parts.schedule = &schedule;
    parts.communicator = &communicator;
    parts.micro_batch_size = 2;
    parts.accumulation_steps = 2;
    parts.max_grad_norm = max_grad_norm;
    step = std::make_unique<TrainStep>(std::move(parts));
  }
  std::vector<at::Tensor> Weights() const {
    std::vector<at::Tensor> copies;
    for (const auto& parameter : policy->module().parameters()) copies.push_back(parameter.detach().clone());
    return copies;
  }
};

const std::vector<int64_t> kBatch = {2, 0, 3, 1};

TEST(TrainStepTest, EqualsGradientsClipAndAdamWByHand) {
  Fixture fixture(/*max_grad_norm=*/0.05);  // small enough to clip
  Fixture by_hand(/*max_grad_norm=*/0.05);
  const StepResult result = fixture.step->Run(/*step=*/1, kBatch, kBatch);

  // By hand on an identical copy: two micro-batches, one loss normalised by all four pairs.
  const LossNormalizer normalizer = PreferenceStep::NormalizerFor(by_hand.pairs, kBatch);
  StepTotals totals;
  by_hand.micro_batches.Run(by_hand.pairs, {2, 0}, normalizer, /*backward=*/true, totals);
  by_hand.micro_batches.Run(by_hand.pairs, {3, 1}, normalizer, /*backward=*/true, totals);
  const auto parameters = by_hand.policy->module().parameters();
  const double norm = torch::nn::utils::clip_grad_norm_(parameters, 0.05);
  for (auto& group : by_hand.optimizer.adamw().param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(1e-2 * 3.0 / 4.0);  // linear, step 1 of 4
  }
  by_hand.optimizer.adamw().step();

  EXPECT_TRUE(result.applied);
  EXPECT_FALSE(result.reference_failure);
  EXPECT_DOUBLE_EQ(result.learning_rate, 1e-2 * 3.0 / 4.0);
  EXPECT_NEAR(result.grad_norm, norm, 1e-9);
  EXPECT_GT(result.grad_norm, 0.05);  // the clip did something
  EXPECT_NEAR(result.totals.loss, totals.loss, 1e-12);
  EXPECT_EQ(result.totals.metrics.pairs, 4);
  EXPECT_EQ(result.totals.tokens, totals.tokens);
  const auto stepped = fixture.Weights(), expected = by_hand.Weights();
  for (size_t i = 0; i < stepped.size(); ++i) EXPECT_TRUE(torch::equal(stepped[i], expected[i])) << "parameter " << i;
  for (const auto& parameter : fixture.policy->module().parameters()) {
    ASSERT_TRUE(parameter.grad().defined());
    EXPECT_EQ(parameter.grad().abs().sum().item<double>(), 0.0);  // zeroed for the next step
  }
}

TEST(TrainStepTest, AReferenceFailureIsReturnedAndNothingIsApplied) {
  Fixture fixture(/*max_grad_norm=*/1.0);
  const auto before = fixture.Weights();
  fixture.reference.fail = true;
  const StepResult result = fixture.step->Run(/*step=*/0, kBatch, kBatch);
  ASSERT_TRUE(result.reference_failure);
  EXPECT_EQ(result.reference_failure->kind(), ErrorKind::kReferenceUnavailable);
  EXPECT_NE(std::string(result.reference_failure->what()).find("reference server down"), std::string::npos);
  EXPECT_FALSE(result.applied);
  const auto after = fixture.Weights();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i], before[i])) << "parameter " << i;
  // The next step runs normally once the reference answers again.
  fixture.reference.fail = false;
  EXPECT_TRUE(fixture.step->Run(/*step=*/0, kBatch, kBatch).applied);
}

TEST(TrainStepTest, ANonFiniteLossSkipsTheUpdate) {
  Fixture fixture(/*max_grad_norm=*/1.0);
  {
    torch::NoGradGuard no_grad;
    fixture.policy->module().parameters().front().fill_(std::numeric_limits<float>::quiet_NaN());
  }
  const auto poisoned = fixture.Weights();
  const StepResult result = fixture.step->Run(/*step=*/0, kBatch, kBatch);
  EXPECT_FALSE(result.applied);
  EXPECT_FALSE(result.reference_failure);
  EXPECT_FALSE(std::isfinite(result.totals.loss) && std::isfinite(result.grad_norm));
  const auto after = fixture.Weights();
  for (size_t i = 1; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i], poisoned[i])) << "parameter " << i;
}

}  // namespace
}  // namespace dpo
