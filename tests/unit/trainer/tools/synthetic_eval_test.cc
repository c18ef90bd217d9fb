// Ground-truth evaluation of response files: mean reward, well-formed fraction, per-prompt win
// rates with ties counting half, and row errors naming file:line:field.
#include "trainer/tools/synthetic_eval.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;

const SyntheticTask& Words() { return FindSyntheticTask("words"); }

std::string Row(const std::string& prompt, const std::string& response) {
  return nlohmann::json{{"prompt", prompt}, {"response", response}}.dump() + "\n";
}

TEST(SyntheticEval, ScoresEveryRowAndKeepsItsKeys) {
  TempDir dir;
  WriteFileAtomically(dir.File("a.jsonl"),
                      Row("Describe the desert:", " kind clear blue rude.") + "\n" +
                          "{\"prompt\":\"Describe the island:\",\"response\":\"toxic\",\"sample\":3}\n");
  const auto scores = ScoreResponseFile(Words(), dir.File("a.jsonl"));
  ASSERT_EQ(scores.rows.size(), 2u);
  EXPECT_EQ(scores.rows[0].reward, 1.0);
  EXPECT_EQ(scores.rows[1].reward, -1.0);
  EXPECT_DOUBLE_EQ(scores.mean_reward, 0.0);
  EXPECT_DOUBLE_EQ(scores.well_formed_fraction, 0.5);
  const auto second = nlohmann::json::parse(scores.scored_lines[1]);
  EXPECT_EQ(second.at("sample"), 3);
  EXPECT_EQ(second.at("reward"), -1.0);
  EXPECT_EQ(second.at("well_formed"), false);
  const auto summary = nlohmann::json::parse(RewardSummaryJson(Words(), scores));
  EXPECT_EQ(summary.at("task"), "words");
  EXPECT_EQ(summary.at("rows"), 2);
  EXPECT_EQ(summary.at("mean_reward"), 0.0);
}

TEST(SyntheticEval, BadRowsNameFileLineAndField) {
  TempDir dir;
  const struct {
    std::string contents;
    std::string message;
  } cases[] = {
      {"\n{\"prompt\":\"p\"}\n", ":2: field \"response\": missing"},
      {"{\"prompt\":\"p\",\"response\":7}\n", ":1: field \"response\": expected a string, found number"},
      {"[1]\n", ":1: expected a JSON object"},
      {"", ": no rows to score"},
  };
  for (const auto& c : cases) {
    WriteFileAtomically(dir.File("bad.jsonl"), c.contents);
    try {
      ScoreResponseFile(Words(), dir.File("bad.jsonl"));
      ADD_FAILURE() << "expected an error for " << c.contents;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_EQ(std::string(e.what()), dir.File("bad.jsonl") + c.message);
    }
  }
}

TEST(SyntheticEval, WinRateIsPerPromptWithTiesCountingHalf) {
  TempDir dir;
  // Prompt p: a = {+2}, b = {+1, +2}: a wins one pair and ties one -> 0.75.
  // Prompt q: a = {-1}, b = {0}: a loses -> 0. Prompt r only in a, s only in b.
  WriteFileAtomically(dir.File("a.jsonl"), Row("p", " kind clear.") + Row("q", " rude.") + Row("r", " kind."));
  WriteFileAtomically(dir.File("b.jsonl"),
                      Row("p", " kind.") + Row("p", " honest useful.") + Row("q", " blue.") + Row("s", " kind."));
  const auto a = ScoreResponseFile(Words(), dir.File("a.jsonl"));
  const auto b = ScoreResponseFile(Words(), dir.File("b.jsonl"));
  const ResponseComparison comparison = CompareResponses(a, b);
  EXPECT_EQ(comparison.prompts_compared, 2);
  EXPECT_EQ(comparison.prompts_only_in_a, 1);
  EXPECT_EQ(comparison.prompts_only_in_b, 1);
  EXPECT_DOUBLE_EQ(comparison.win_rate_a_over_b, (0.75 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(CompareResponses(b, b).win_rate_a_over_b, 0.5);  // a file against itself
  const auto line = nlohmann::json::parse(ComparisonJson(Words(), a, b, comparison));
  EXPECT_DOUBLE_EQ(line.at("a").at("mean_reward").get<double>(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(line.at("b").at("mean_reward").get<double>(), (1.0 + 2.0 + 0.0 + 1.0) / 4.0);
  EXPECT_DOUBLE_EQ(line.at("win_rate_a_over_b").get<double>(), 0.375);

  WriteFileAtomically(dir.File("c.jsonl"), Row("z", " kind."));
  const auto c = ScoreResponseFile(Words(), dir.File("c.jsonl"));
  EXPECT_THROW(CompareResponses(a, c), Error);
}

}  // namespace
}  // namespace dpo
