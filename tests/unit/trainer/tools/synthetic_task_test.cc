// The "words" synthetic task: the ground-truth reward on hand-written texts, the format check,
// SplitMix64, and deterministic, well-formed data splits.
#include "trainer/tools/synthetic_task.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/data/preference_reader.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"
#include "trainer/tools/split_mix64.h"

namespace dpo {
namespace {

using testing::TempDir;

const SyntheticTask& Words() { return FindSyntheticTask("words"); }

TEST(SplitMix64, MatchesTheReferenceSequence) {
  SplitMix64 rng(0);  // reference values of Vigna's splitmix64.c seeded with 0
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
}

TEST(SplitMix64, UniformBelowCoversTheRangeOnly) {
  SplitMix64 rng(7);
  std::vector<int> counts(12, 0);
  for (int i = 0; i < 12000; ++i) ++counts.at(rng.UniformBelow(12));
  for (int count : counts) EXPECT_NEAR(count, 1000, 150);
  EXPECT_EQ(rng.UniformBelow(1), 0u);
  EXPECT_NE(DeriveSeed(1, 1), DeriveSeed(1, 2));
  EXPECT_NE(DeriveSeed(1, 1), DeriveSeed(2, 1));
}

TEST(WordsTask, RewardOfHandWrittenTexts) {
  const struct {
    const char* text;
    double reward;
  } cases[] = {
      {" kind clear blue rude.", 1.0},      // +1 +1 0 -1
      {" honest useful kind clear.", 4.0},  // the best response
      {" rude toxic vague mean.", -4.0},    // the worst
      {" blue green square wooden.", 0.0},  // neutral
      {"", 0.0},
      {"KIND, Honest!", 2.0},    // case-insensitive, punctuation separates
      {"kindness unkind", 0.0},  // whole words only
      {"rude-mean", -2.0},
      {"kind2clear\ntoxic", 1.0},                // digits and newlines separate words
      {"caf\xC3\xA9 kind", 1.0},                 // non-ASCII bytes separate words too
      {" kind kind kind kind kind kind.", 6.0},  // any length is scored
  };
  for (const auto& c : cases) EXPECT_EQ(Words().Reward(c.text), c.reward) << '"' << c.text << '"';
  EXPECT_EQ(Words().WordScore("Useful"), 1);
  EXPECT_EQ(Words().WordScore("vague"), -1);
  EXPECT_EQ(Words().WordScore("wooden"), 0);
  EXPECT_EQ(Words().WordScore("river"), 0);
}

TEST(WordsTask, WellFormedMeansTheDataFormat) {
  EXPECT_TRUE(Words().WellFormed(" kind clear blue rude."));
  EXPECT_FALSE(Words().WellFormed(" kind clear blue rude"));        // no period
  EXPECT_FALSE(Words().WellFormed(" kind clear blue."));            // three words
  EXPECT_FALSE(Words().WellFormed(" kind clear blue rude kind."));  // five words
  EXPECT_FALSE(Words().WellFormed(" kind  clear blue rude."));      // double space
  EXPECT_FALSE(Words().WellFormed("kind clear blue rude."));        // no leading space
  EXPECT_FALSE(Words().WellFormed(" Kind clear blue rude."));       // case matters here
  EXPECT_FALSE(Words().WellFormed(" kind clear blue river."));      // unknown word
  EXPECT_EQ(Words().Response({"kind", "clear", "blue", "rude"}), " kind clear blue rude.");
  EXPECT_EQ(Words().Prompt("river"), "Describe the river:");
  EXPECT_EQ(Words().Vocabulary().size(), 12u);
}

TEST(WordsTask, UnknownTaskAndBadCountsAreClearErrors) {
  try {
    FindSyntheticTask("sentiment");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(), "--task \"sentiment\" is not a synthetic task (supported: words)");
  }
  try {
    GenerateSyntheticData(Words(), 0, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--pairs=0 must be in [1, 10000000]");
  }
}

TEST(SyntheticData, PairsPreferTheHigherRewardAndUseTrainTopics) {
  const SyntheticData data = GenerateSyntheticData(Words(), 500, 3);
  ASSERT_EQ(data.train.size(), 500u);
  ASSERT_EQ(data.eval.size(), 50u);
  ASSERT_EQ(data.sft.size(), 500u);
  std::set<std::string> train_prompts;
  for (const auto& topic : Words().train_topics) train_prompts.insert(Words().Prompt(topic));
  for (const auto* split : {&data.train, &data.eval}) {
    for (const auto& row : *split) {
      EXPECT_GT(Words().Reward(row.chosen), Words().Reward(row.rejected)) << row.chosen << " vs " << row.rejected;
      EXPECT_TRUE(Words().WellFormed(row.chosen) && Words().WellFormed(row.rejected)) << row.chosen;
      EXPECT_TRUE(train_prompts.count(row.prompt)) << row.prompt;
    }
  }
  std::set<std::string> seen_prompts;
  double sft_reward = 0.0;
  for (const auto& row : data.sft) {
    EXPECT_NE(row.chosen, row.rejected);
    EXPECT_TRUE(Words().WellFormed(row.chosen));
    sft_reward += Words().Reward(row.chosen);
    seen_prompts.insert(row.prompt);
  }
  EXPECT_NEAR(sft_reward / 500.0, 0.0, 0.25);  // SFT targets carry no preference (std ~0.07)
  EXPECT_EQ(seen_prompts, train_prompts);      // every train topic appears
  ASSERT_EQ(data.prompts.size(), Words().heldout_topics.size());
  for (const auto& prompt : data.prompts) EXPECT_FALSE(train_prompts.count(prompt)) << prompt;
  EXPECT_EQ(GenerateSyntheticData(Words(), 11, 3).eval.size(), 2u);  // ceil(11 / 10)
}

TEST(SyntheticData, SameSeedSameFilesDifferentSeedDifferentFiles) {
  TempDir dir;
  const std::vector<std::string> files = {"train.jsonl", "eval.jsonl", "sft.jsonl", "prompts.jsonl", "task.json"};
  for (const auto& [name, seed] : {std::pair<const char*, uint64_t>{"a", 5}, {"b", 5}, {"c", 6}}) {
    WriteSyntheticData(Words(), GenerateSyntheticData(Words(), 200, seed), seed, dir.File(name));
  }
  for (const auto& file : files) {
    EXPECT_EQ(ReadFile(dir.File("a/" + file)), ReadFile(dir.File("b/" + file))) << file;
  }
  for (const auto& file : {"train.jsonl", "eval.jsonl", "sft.jsonl", "task.json"}) {
    EXPECT_NE(ReadFile(dir.File(std::string("a/") + file)), ReadFile(dir.File(std::string("c/") + file))) << file;
  }
  // The first train row, pinned: a change of generator or format shows up here.
  const std::string train = ReadFile(dir.File("a/train.jsonl"));
  const auto first = nlohmann::json::parse(train.substr(0, train.find('\n')));
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(train.substr(0, 11), "{\"prompt\":\"");

  const auto task = nlohmann::json::parse(ReadFile(dir.File("a/task.json")));
  EXPECT_EQ(task.at("task"), "words");
  EXPECT_EQ(task.at("seed"), 5);
  EXPECT_EQ(task.at("counts").at("train"), 200);
  EXPECT_EQ(task.at("counts").at("eval"), 20);
  EXPECT_EQ(task.at("counts").at("prompts"), 8);
  EXPECT_EQ(task.at("words").at("helpful").size(), 4u);
  EXPECT_EQ(task.at("heldout_topics").size(), 8u);
}

TEST(SyntheticData, TheTrainerReaderKeepsEveryRow) {
  TempDir dir;
  WriteSyntheticData(Words(), GenerateSyntheticData(Words(), 100, 9), 9, dir.path());
  const auto tokenizer = CreateTokenizer("byte");
  DataOptions options;
  options.max_length = 64;
  options.max_prompt_length = 32;
  for (const auto& file : {"train.jsonl", "eval.jsonl", "sft.jsonl"}) {
    const auto dataset = LoadPreferenceData(dir.File(file), *tokenizer, options);
    EXPECT_EQ(dataset.pairs.size(), static_cast<size_t>(dataset.rows_read)) << file;
    EXPECT_TRUE(dataset.rejected.empty()) << file;
  }
  EXPECT_EQ(ReadFile(dir.File("prompts.jsonl")).substr(0, 33), "{\"prompt\":\"Describe the desert:\"}");
}

}  // namespace
}  // namespace dpo
