// SequenceBuilder: BOS/EOS rules, both truncation modes, completion cuts and the drop reasons,
// with the expected token ids spelled out (byte tokenizer: BOS 256, EOS 257).
#include "core/data/sequence_builder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/tokenizer/byte_tokenizer.h"
#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using Ids = std::vector<TokenId>;
constexpr TokenId kBos = ByteTokenizer::kBosId;
constexpr TokenId kEos = ByteTokenizer::kEosId;

DataOptions Options(int64_t max_length, int64_t max_prompt_length, TruncationMode mode) {
  DataOptions options;
  options.max_length = max_length;
  options.max_prompt_length = max_prompt_length;
  options.truncation_mode = mode;
  return options;
}

TEST(SequenceBuilderTest, TextPartsGetBosAndEos) {
  const ByteTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, DataOptions{});
  EXPECT_EQ(builder.PromptFromText("ab"), (Ids{kBos, 'a', 'b'}));
  EXPECT_EQ(builder.PromptFromText(""), (Ids{kBos}));
  EXPECT_EQ(builder.CompletionFromText("c"), (Ids{'c', kEos}));
}

TEST(SequenceBuilderTest, PreTokenisedPartsNeverDoubleBosOrEos) {
  const ByteTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, DataOptions{});
  const struct {
    const char* name;
    Ids prompt_in, prompt_out, completion_in, completion_out;
  } cases[] = {
      {"plain", {1, 2}, {kBos, 1, 2}, {3, 4}, {3, 4, kEos}},
      {"already marked", {kBos, 1, 2}, {kBos, 1, 2}, {3, kEos}, {3, kEos}},
      {"empty", {}, {kBos}, {}, {kEos}},
      {"markers elsewhere", {1, kBos}, {kBos, 1, kBos}, {kEos, 3}, {kEos, 3, kEos}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(builder.PromptFromIds(c.prompt_in), c.prompt_out);
    EXPECT_EQ(builder.CompletionFromIds(c.completion_in), c.completion_out);
  }
}

TEST(SequenceBuilderTest, WithoutBosPromptIsJustItsTokens) {
  const testing::NoBosTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, DataOptions{});
  EXPECT_EQ(builder.PromptFromText("ab"), (Ids{'a', 'b'}));
  EXPECT_EQ(builder.PromptFromIds({7}), (Ids{7}));
  EXPECT_EQ(builder.CompletionFromText("c"), (Ids{'c', testing::NoBosTokenizer::kEosId}));
}

struct TruncationCase {
  const char* name;
  bool with_bos;
  DataOptions options;
  std::string prompt, completion;
  Ids prompt_ids, completion_ids;
};

TEST(SequenceBuilderTest, TruncatesPromptThenCompletion) {
  const auto keep_start = TruncationMode::kKeepStart;
  const auto keep_end = TruncationMode::kKeepEnd;
  const TruncationCase cases[] = {
      {"fits", true, Options(16, 8, keep_end), "abc", "xy", {kBos, 'a', 'b', 'c'}, {'x', 'y', kEos}},
      {"prompt exactly at limit", true, Options(16, 4, keep_end), "abc", "x",
       {kBos, 'a', 'b', 'c'}, {'x', kEos}},
      {"keep_start", true, Options(16, 4, keep_start), "abcdefgh", "xy",
       {kBos, 'a', 'b', 'c'}, {'x', 'y', kEos}},
      {"keep_end keeps BOS first", true, Options(16, 4, keep_end), "abcdefgh", "xy",
       {kBos, 'f', 'g', 'h'}, {'x', 'y', kEos}},
      {"keep_end down to BOS alone", true, Options(16, 1, keep_end), "abc", "x", {kBos}, {'x', kEos}},
      {"keep_start without BOS", false, Options(16, 3, keep_start), "abcdefgh", "xy",
       {'a', 'b', 'c'}, {'x', 'y', testing::NoBosTokenizer::kEosId}},
      {"keep_end without BOS", false, Options(16, 3, keep_end), "abcdefgh", "xy",
       {'f', 'g', 'h'}, {'x', 'y', testing::NoBosTokenizer::kEosId}},
      {"completion exactly fits with EOS", true, Options(6, 4, keep_end), "ab", "wx",
       {kBos, 'a', 'b'}, {'w', 'x', kEos}},
      {"completion cut keeps its start, EOS lost", true, Options(6, 4, keep_end), "ab", "wxyz",
       {kBos, 'a', 'b'}, {'w', 'x', 'y'}},
      {"prompt and completion both cut", true, Options(6, 4, keep_end), "abcdefgh", "wxyz",
       {kBos, 'f', 'g', 'h'}, {'w', 'x'}},
  };
  const ByteTokenizer byte_tokenizer;
  const testing::NoBosTokenizer no_bos_tokenizer;
  for (const TruncationCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Tokenizer& tokenizer =
        c.with_bos ? static_cast<const Tokenizer&>(byte_tokenizer) : no_bos_tokenizer;
    const SequenceBuilder builder(tokenizer, c.options);
    const SequenceOutcome outcome = builder.SequenceFromText(c.prompt, c.completion);
    ASSERT_EQ(outcome.status, BuildStatus::kOk) << outcome.reason;
    EXPECT_EQ(outcome.sequence.prompt_ids, c.prompt_ids);
    EXPECT_EQ(outcome.sequence.completion_ids, c.completion_ids);
    EXPECT_EQ(outcome.reason, "");
  }
}

TEST(SequenceBuilderTest, PromptFillingTheWindowLeavesCompletionEmpty) {
  const ByteTokenizer tokenizer;
  // max_prompt_length == max_length: DataOptions::Validate refuses it, the builder drops the row.
  const SequenceBuilder builder(tokenizer, Options(4, 4, TruncationMode::kKeepEnd));
  const SequenceOutcome fills = builder.SequenceFromText("abcdef", "x");
  EXPECT_EQ(fills.status, BuildStatus::kEmptyAfterTruncation);
  EXPECT_EQ(fills.field, "completion");
  EXPECT_EQ(fills.reason, "empty after truncation to max_length=4");
  const SequenceOutcome leaves_one = builder.SequenceFromText("ab", "xyz");
  ASSERT_EQ(leaves_one.status, BuildStatus::kOk);
  EXPECT_EQ(leaves_one.sequence.completion_ids, (Ids{'x'}));
}

TEST(SequenceBuilderTest, EmptyPromptWithoutBosIsInvalid) {
  const testing::NoBosTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, DataOptions{});
  const SequenceOutcome outcome = builder.SequenceFromText("", "x");
  EXPECT_EQ(outcome.status, BuildStatus::kInvalid);
  EXPECT_EQ(outcome.field, "prompt");
  EXPECT_EQ(outcome.reason, "empty and the tokenizer has no BOS token");
  const PairOutcome pair = builder.BuildPair({}, {'x'}, {'y'}, 3);
  EXPECT_EQ(pair.status, BuildStatus::kInvalid);
  EXPECT_EQ(pair.field, "prompt");
  EXPECT_EQ(pair.reason, "empty and the tokenizer has no BOS token");
}

TEST(SequenceBuilderTest, EmptyCompletionIdsAreInvalid) {
  const ByteTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, DataOptions{});
  const SequenceOutcome sequence = builder.BuildSequence({kBos}, {});
  EXPECT_EQ(sequence.status, BuildStatus::kInvalid);
  EXPECT_EQ(sequence.field, "completion");
  EXPECT_EQ(sequence.reason, "empty");
  const PairOutcome pair = builder.BuildPair({kBos}, {'x'}, {}, 1);
  EXPECT_EQ(pair.status, BuildStatus::kInvalid);
  EXPECT_EQ(pair.field, "rejected");
  EXPECT_EQ(pair.reason, "empty");
}

TEST(SequenceBuilderTest, PairSharesPromptAndCutsEachCompletion) {
  const ByteTokenizer tokenizer;
  const SequenceBuilder builder(tokenizer, Options(6, 4, TruncationMode::kKeepStart));
  const PairOutcome outcome =
      builder.BuildPair(builder.PromptFromText("abcdef"), builder.CompletionFromText("wxyz"),
                        builder.CompletionFromText("q"), 17);
  ASSERT_EQ(outcome.status, BuildStatus::kOk) << outcome.reason;
  EXPECT_EQ(outcome.pair.prompt_ids, (Ids{kBos, 'a', 'b', 'c'}));
  EXPECT_EQ(outcome.pair.chosen_ids, (Ids{'w', 'x'}));
  EXPECT_EQ(outcome.pair.rejected_ids, (Ids{'q', kEos}));
  EXPECT_EQ(outcome.pair.source_line, 17);
}

TEST(SequenceBuilderTest, PairDropReasons) {
  const ByteTokenizer tokenizer;
  const struct {
    const char* name;
    DataOptions options;
    Ids chosen, rejected;
    BuildStatus status;
    std::string field, reason;
  } cases[] = {
      {"identical", Options(16, 8, TruncationMode::kKeepEnd), {'a', kEos}, {'a', kEos},
       BuildStatus::kChosenEqualsRejected, "", "chosen equals rejected"},
      {"identical once EOS is added", Options(16, 8, TruncationMode::kKeepEnd), {'a'}, {'a', kEos},
       BuildStatus::kChosenEqualsRejected, "", "chosen equals rejected"},
      {"equal after truncation", Options(5, 4, TruncationMode::kKeepEnd), {'w', 'x', 'A'},
       {'w', 'x', 'B'}, BuildStatus::kChosenEqualsRejected, "",
       "chosen equals rejected after truncation to max_length=5"},
      {"prompt fills window", Options(3, 3, TruncationMode::kKeepEnd), {'A'}, {'B'},
       BuildStatus::kEmptyAfterTruncation, "chosen", "empty after truncation to max_length=3"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const SequenceBuilder builder(tokenizer, c.options);
    const PairOutcome outcome =
        builder.BuildPair(builder.PromptFromText("ab"), builder.CompletionFromIds(c.chosen),
                          builder.CompletionFromIds(c.rejected), 1);
    EXPECT_EQ(outcome.status, c.status);
    EXPECT_EQ(outcome.field, c.field);
    EXPECT_EQ(outcome.reason, c.reason);
  }
}

TEST(SequenceBuilderTest, RejectsNonPositiveLimits) {
  const ByteTokenizer tokenizer;
  testing::ExpectInvalidInput(
      [&] { SequenceBuilder(tokenizer, Options(0, 0, TruncationMode::kKeepEnd)); },
      "data.max_length=0 must be >= 1; data.max_prompt_length=0 must be >= 1");
  testing::ExpectInvalidInput(
      [&] { SequenceBuilder(tokenizer, Options(8, -1, TruncationMode::kKeepEnd)); },
      "data.max_prompt_length=-1 must be >= 1");
}

TEST(SequenceBuilderTest, StatusNamesAreDatasetKeys) {
  EXPECT_STREQ(BuildStatusName(BuildStatus::kOk), "ok");
  EXPECT_STREQ(BuildStatusName(BuildStatus::kInvalid), "invalid_row");
  EXPECT_STREQ(BuildStatusName(BuildStatus::kEmptyAfterTruncation), "empty_after_truncation");
  EXPECT_STREQ(BuildStatusName(BuildStatus::kChosenEqualsRejected), "chosen_equals_rejected");
}

}  // namespace
}  // namespace dpo
