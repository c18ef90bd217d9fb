// Implicit-reward scoring: pair and response rows against an independent computation with the
// training path (BuildPair, CollatePairs, ComputeSequenceLogProbs), summaries, and row errors.
#include "trainer/tools/reward_scoring.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/data/batch.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_files.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;
using testing::TinyGpt2Config;

struct Fixture {
  std::shared_ptr<CausalLm> policy = CreateCausalLm(TinyGpt2Config(), 1);
  std::shared_ptr<CausalLm> reference = CreateCausalLm(TinyGpt2Config(), 2);
  std::shared_ptr<const Tokenizer> tokenizer = CreateTokenizer("byte");
  RewardScoringOptions options = [] {
    RewardScoringOptions o;
    o.beta = 0.25;
    o.batch_size = 3;
    o.data.max_length = 64;  // TinyGpt2Config's n_positions
    o.data.max_prompt_length = 32;
    return o;
  }();
};

std::string PairRow(const std::string& prompt, const std::string& chosen, const std::string& rejected) {
  return nlohmann::json{{"prompt", prompt}, {"chosen", chosen}, {"rejected", rejected}}.dump() + "\n";
}
std::string ResponseRow(const std::string& prompt, const std::string& response) {
  return nlohmann::json{{"prompt", prompt}, {"response", response}}.dump() + "\n";
}

// beta * (policy - reference) of chosen and rejected, computed the way the trainer does.
std::pair<double, double> IndependentPairRewards(Fixture& f, const std::string& prompt, const std::string& chosen,
                                                 const std::string& rejected) {
  const SequenceBuilder builder(*f.tokenizer, f.options.data);
  const PairOutcome outcome = builder.BuildPair(builder.PromptFromText(prompt), builder.CompletionFromText(chosen),
                                                builder.CompletionFromText(rejected), 1);
  EXPECT_EQ(outcome.status, BuildStatus::kOk);
  const SequenceBatch batch = CollatePairs({&outcome.pair}, f.tokenizer->PadId());  // (2, T)
  torch::NoGradGuard no_grad;
  const auto policy = ComputeSequenceLogProbs(*f.policy, batch.input_ids, batch.completion_mask).sum_log_probs;
  const auto reference = ComputeSequenceLogProbs(*f.reference, batch.input_ids, batch.completion_mask).sum_log_probs;
  const auto rewards = (f.options.beta * (policy.to(torch::kDouble) - reference.to(torch::kDouble)));
  return {rewards[0].item<double>(), rewards[1].item<double>()};
}

TEST(RewardScoring, PairRowsEqualBetaTimesTheTrainingLogRatios) {
  Fixture f;
  TempDir dir;
  const std::vector<std::array<std::string, 3>> pairs = {
      {"Describe the river:", " kind clear blue rude.", " toxic mean green kind."},
      {"Q: 2+2?", " 4", " five, I think, or maybe six"},
      {std::string(50, 'x'), " a long prompt is truncated to keep its end", " b"},  // keep_end, 32 tokens
  };
  std::string contents;
  for (const auto& p : pairs) contents += PairRow(p[0], p[1], p[2]);
  WriteFileAtomically(dir.File("pairs.jsonl"), contents);
  RewardScorer scorer(*f.policy, *f.reference, *f.tokenizer, f.options);
  const ScoredRewardFile scored = ScoreRewardFile(scorer, dir.File("pairs.jsonl"));
  ASSERT_EQ(scored.lines.size(), pairs.size());
  int64_t wins = 0;
  double margin = 0.0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto row = nlohmann::json::parse(scored.lines[i]);
    const auto [chosen, rejected] = IndependentPairRewards(f, pairs[i][0], pairs[i][1], pairs[i][2]);
    EXPECT_NEAR(row.at("chosen_reward").get<double>(), chosen, 1e-5) << i;
    EXPECT_NEAR(row.at("rejected_reward").get<double>(), rejected, 1e-5) << i;
    EXPECT_GT(std::abs(chosen), 1e-3) << "the two models must differ for the check to mean anything";
    EXPECT_EQ(row.at("chosen_wins").get<bool>(),
              row.at("chosen_reward").get<double>() > row.at("rejected_reward").get<double>());
    EXPECT_NEAR(
        row.at("chosen_reward").get<double>(),
        0.25 * (row.at("policy_chosen_log_prob").get<double>() - row.at("reference_chosen_log_prob").get<double>()),
        1e-9);
    EXPECT_EQ(row.at("prompt"), pairs[i][0]);  // input keys are kept
    wins += row.at("chosen_wins").get<bool>() ? 1 : 0;
    margin += chosen - rejected;
  }
  // Completion = text bytes + EOS, as in training.
  EXPECT_EQ(nlohmann::json::parse(scored.lines[1]).at("chosen_completion_tokens"), 3);
  EXPECT_EQ(scored.summary.pair_rows, 3);
  EXPECT_EQ(scored.summary.response_rows, 0);
  EXPECT_DOUBLE_EQ(scored.summary.reward_accuracy, wins / 3.0);
  EXPECT_NEAR(scored.summary.mean_margin, margin / 3.0, 1e-5);
  const auto summary = nlohmann::json::parse(scored.summary.ToJson());
  EXPECT_TRUE(summary.at("mean_reward").is_null());
  EXPECT_EQ(summary.at("beta"), 0.25);
}

TEST(RewardScoring, ResponseRowsMatchPairScoringAndBatchSizeDoesNotMatter) {
  Fixture f;
  TempDir dir;
  WriteFileAtomically(dir.File("mixed.jsonl"), ResponseRow("Describe the river:", " kind clear blue rude.") +
                                                   PairRow("Describe the river:", " kind clear blue rude.", " toxic.") +
                                                   ResponseRow("Describe the desert:", " x") + ResponseRow("p", ""));
  RewardScorer scorer(*f.policy, *f.reference, *f.tokenizer, f.options);
  const auto scored = ScoreRewardFile(scorer, dir.File("mixed.jsonl"));
  const auto response = nlohmann::json::parse(scored.lines[0]);
  const auto pair = nlohmann::json::parse(scored.lines[1]);
  EXPECT_NEAR(response.at("reward").get<double>(), pair.at("chosen_reward").get<double>(), 1e-5);
  EXPECT_EQ(response.at("completion_tokens"), 23);                               // 22 bytes + EOS
  EXPECT_EQ(nlohmann::json::parse(scored.lines[3]).at("completion_tokens"), 1);  // an empty response is EOS alone
  EXPECT_EQ(scored.summary.response_rows, 3);
  EXPECT_EQ(scored.summary.pair_rows, 1);

  f.options.batch_size = 1;
  RewardScorer one_at_a_time(*f.policy, *f.reference, *f.tokenizer, f.options);
  const auto again = ScoreRewardFile(one_at_a_time, dir.File("mixed.jsonl"));
  for (size_t i = 0; i < 4; ++i) {
    const auto a = nlohmann::json::parse(scored.lines[i]), b = nlohmann::json::parse(again.lines[i]);
    const char* key = a.contains("reward") ? "reward" : "chosen_reward";
    EXPECT_NEAR(a.at(key).get<double>(), b.at(key).get<double>(), 1e-5) << i;
  }
}

TEST(RewardScoring, IdenticalModelsGiveZeroRewardsAndZeroAccuracy) {
  Fixture f;
  f.reference = CreateCausalLm(TinyGpt2Config(), 1);  // the policy's weights
  TempDir dir;
  WriteFileAtomically(dir.File("pairs.jsonl"), PairRow("p", " a", " b") + PairRow("q", " kind.", " rude."));
  RewardScorer scorer(*f.policy, *f.reference, *f.tokenizer, f.options);
  const auto summary = ScoreRewardFile(scorer, dir.File("pairs.jsonl")).summary;
  EXPECT_EQ(summary.reward_accuracy, 0.0);  // ties are not wins
  EXPECT_EQ(summary.mean_margin, 0.0);
  EXPECT_EQ(summary.mean_chosen_reward, 0.0);
}

TEST(RewardScoring, EveryBadRowIsReportedWithFileLineAndField) {
  Fixture f;
  TempDir dir;
  WriteFileAtomically(dir.File("bad.jsonl"), ResponseRow("ok", " fine") + "{\"prompt\":\"p\"}\n" +
                                                 "{\"prompt\":\"p\",\"chosen\":\"a\"}\n" +
                                                 "{\"prompt\":1,\"response\":\"a\",\"chosen\":\"b\"}\n" +
                                                 "{\"prompt\":3,\"response\":\"a\"}\n" + "not json\n");
  RewardScorer scorer(*f.policy, *f.reference, *f.tokenizer, f.options);
  try {
    ScoreRewardFile(scorer, dir.File("bad.jsonl"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string path = dir.File("bad.jsonl");
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(message.substr(0, message.find('\n')), path + ": 5 problems in 5 invalid rows");
    for (const std::string& expected :
         {path + ":2: field \"response\": missing", path + ":3: field \"rejected\": missing",
          path + ":4: a row holds either \"response\" or \"chosen\" and \"rejected\", not both",
          path + ":5: field \"prompt\": expected a string, found number", path + ":6: invalid JSON: "}) {
      EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin\n" << message;
    }
  }
  // A prompt that fills max_length leaves no room for the completion.
  f.options.data.max_prompt_length = 64;
  RewardScorer long_prompts(*f.policy, *f.reference, *f.tokenizer, f.options);
  WriteFileAtomically(dir.File("long.jsonl"), ResponseRow(std::string(70, 'x'), " a"));
  try {
    ScoreRewardFile(long_prompts, dir.File("long.jsonl"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.File("long.jsonl") + ": 1 problem in 1 invalid row\n  " +
                                         dir.File("long.jsonl") +
                                         ":1: field \"response\": empty after truncation to max_length=64");
  }
}

TEST(RewardScoring, OptionsAreValidatedAgainstTheModels) {
  Fixture f;
  f.options.data.max_length = 65;
  f.options.beta = 0.0;
  try {
    RewardScorer scorer(*f.policy, *f.reference, *f.tokenizer, f.options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "reward scoring: beta=0 must be > 0; max_length=65 exceeds the policy model's n_positions=64; "
                 "max_length=65 exceeds the reference model's n_positions=64");
  }
}

TEST(RewardScoring, LoadsCheckpointPairsAndChecksTheirVocabularies) {
  Fixture f;
  TempDir dir;
  SaveModelDirectory(*f.policy, dir.File("policy"));
  SaveTokenizerFiles(*f.tokenizer, dir.File("policy"));
  SaveModelDirectory(*f.reference, dir.File("reference"));  // no tokenizer record: "byte" fallback
  const ScoringModels models = LoadScoringModels(dir.File("policy"), dir.File("reference"));
  EXPECT_EQ(models.tokenizer->Name(), "byte");
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({256, 65, 66}, torch::kLong).view({1, 3});
  EXPECT_TRUE(torch::equal(models.reference->Logits(ids), f.reference->Logits(ids)));

  ModelConfig bigger = TinyGpt2Config();
  bigger.vocab_size = 300;
  SaveModelDirectory(*CreateCausalLm(bigger, 3), dir.File("bigger"));
  try {
    LoadScoringModels(dir.File("policy"), dir.File("bigger"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--policy " + dir.File("policy") + " has vocab_size=259 but --reference " +
                                         dir.File("bigger") + " has vocab_size=300");
  }
}

}  // namespace
}  // namespace dpo
