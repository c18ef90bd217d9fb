// ParsePreferenceData on in-memory JSONL: one case per kind of bad row with its exact message,
// the error and skip policies, drops, line numbering and pre-tokenised rows.
#include "core/data/preference_reader.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/tokenizer/byte_tokenizer.h"
#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using Ids = std::vector<TokenId>;
constexpr TokenId kBos = ByteTokenizer::kBosId;
constexpr TokenId kEos = ByteTokenizer::kEosId;
const std::string kPath = "data/train.jsonl";
const std::string kGoodRow = R"({"prompt":"p","chosen":"c","rejected":"r"})";

PreferenceDataset Parse(const std::string& contents, const DataOptions& options = {},
                        const Tokenizer& tokenizer = ByteTokenizer()) {
  return ParsePreferenceData(contents, kPath, tokenizer, options);
}

std::string OneProblemMessage(int64_t line, const std::string& problem) {
  return kPath + ": 1 problem in 1 invalid row (data.on_bad_row=error)\n  " + kPath + ":" +
         std::to_string(line) + ": " + problem;
}

struct BadRowCase {
  std::string name;
  std::string row;
  std::string problem;
};

class BadRowTest : public ::testing::TestWithParam<BadRowCase> {};

// The bad row is line 2, after a good row, so the line number is checked too.
TEST_P(BadRowTest, ErrorModeNamesFileLineAndProblem) {
  const BadRowCase& c = GetParam();
  testing::ExpectInvalidInput([&] { Parse(kGoodRow + "\n" + c.row + "\n"); },
                              OneProblemMessage(2, c.problem));
}

TEST_P(BadRowTest, SkipModeRejectsRowWithSameReason) {
  const BadRowCase& c = GetParam();
  DataOptions options;
  options.on_bad_row = BadRowPolicy::kSkip;
  const PreferenceDataset dataset = Parse(kGoodRow + "\n" + c.row + "\n", options);
  ASSERT_EQ(dataset.pairs.size(), 1u);
  EXPECT_EQ(dataset.pairs[0].source_line, 1);
  ASSERT_EQ(dataset.rejected.size(), 1u);
  EXPECT_EQ(dataset.rejected[0].line, 2);
  EXPECT_EQ(dataset.rejected[0].reason, c.problem);
  EXPECT_EQ(dataset.dropped_by_reason.at("invalid_row"), 1);
  EXPECT_EQ(dataset.rows_read, 2);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, BadRowTest,
    ::testing::Values(
        BadRowCase{"MissingChosen", R"({"prompt":"p","rejected":"r"})",
                   R"(field "chosen": missing)"},
        BadRowCase{"ChosenNumber", R"({"prompt":"p","chosen":5,"rejected":"r"})",
                   R"(field "chosen": expected a string, found number)"},
        BadRowCase{"PromptNull", R"({"prompt":null,"chosen":"c","rejected":"r"})",
                   R"(field "prompt": expected a string, found null)"},
        BadRowCase{"RejectedArray", R"({"prompt":"p","chosen":"c","rejected":["r"]})",
                   R"(field "rejected": expected a string, found array)"},
        BadRowCase{"PromptInvalidUtf8", "{\"prompt\":\"hello\xFF\",\"chosen\":\"c\",\"rejected\":\"r\"}",
                   R"(field "prompt": invalid UTF-8 at byte 5)"},
        // The offset counts decoded bytes: the escape \u00e9 is 2 bytes, then a lone lead byte.
        BadRowCase{"InvalidUtf8AfterEscape",
                   "{\"prompt\":\"\\u00e9\xC3(\",\"chosen\":\"c\",\"rejected\":\"r\"}",
                   R"(field "prompt": invalid UTF-8 at byte 2)"},
        BadRowCase{"ChosenTruncatedSequence",
                   "{\"prompt\":\"p\",\"chosen\":\"ok\xE2\x82\",\"rejected\":\"r\"}",
                   R"(field "chosen": invalid UTF-8 at byte 2)"},
        BadRowCase{"RejectedSurrogate",
                   "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"\xED\xA0\x80\"}",
                   R"(field "rejected": invalid UTF-8 at byte 0)"},
        BadRowCase{"InvalidUtf8InUnknownField",
                   "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"note\":\"\xFF\"}",
                   "invalid UTF-8 at byte 50 of the line"},
        BadRowCase{"InvalidUtf8OutsideStrings", "{\"prompt\":\"p\"\xFF}",
                   "invalid UTF-8 at byte 13 of the line"},
        BadRowCase{"ChosenEmpty", R"({"prompt":"p","chosen":"","rejected":"r"})",
                   R"(field "chosen": empty)"},
        BadRowCase{"RejectedEmpty", R"({"prompt":"p","chosen":"c","rejected":""})",
                   R"(field "rejected": empty)"},
        BadRowCase{"IdAboveVocabulary", R"({"prompt_ids":[1],"chosen_ids":[1,2,300],"rejected_ids":[3]})",
                   R"(field "chosen_ids": id 300 at index 2 is outside the vocabulary [0, 259))"},
        BadRowCase{"NegativeId", R"({"prompt_ids":[-1],"chosen_ids":[1],"rejected_ids":[3]})",
                   R"(field "prompt_ids": id -1 at index 0 is outside the vocabulary [0, 259))"},
        BadRowCase{"HugeUnsignedId",
                   R"({"prompt_ids":[1],"chosen_ids":[1],"rejected_ids":[18446744073709551615]})",
                   R"(field "rejected_ids": id 18446744073709551615 at index 0 is outside the vocabulary [0, 259))"},
        BadRowCase{"FractionalId", R"({"prompt_ids":[1],"chosen_ids":[1,2.5],"rejected_ids":[3]})",
                   R"(field "chosen_ids": expected an integer at index 1, found 2.5)"},
        BadRowCase{"StringId", R"({"prompt_ids":["a"],"chosen_ids":[1],"rejected_ids":[3]})",
                   R"(field "prompt_ids": expected an integer at index 0, found "a")"},
        BadRowCase{"IdsNotArray", R"({"prompt_ids":[1],"chosen_ids":"1 2","rejected_ids":[3]})",
                   R"(field "chosen_ids": expected an array of integers, found string)"},
        BadRowCase{"ChosenIdsEmpty", R"({"prompt_ids":[1],"chosen_ids":[],"rejected_ids":[3]})",
                   R"(field "chosen_ids": empty)"},
        BadRowCase{"MissingRejectedIds", R"({"prompt_ids":[1],"chosen_ids":[2]})",
                   R"(field "rejected_ids": missing)"},
        BadRowCase{"ArrayRow", "[1, 2]", "not a JSON object"},
        BadRowCase{"StringRow", R"("prompt")", "not a JSON object"},
        BadRowCase{"InvalidLiteral", R"({"prompt": nul})",
                   "invalid JSON: parse error at column 15: syntax error while parsing value - "
                   "invalid literal; last read: '\"prompt\": nul}'"},
        BadRowCase{"TrailingGarbage", kGoodRow + " x",
                   "invalid JSON: parse error at column 44: syntax error while parsing value - "
                   "invalid literal; last read: '\"r\"} x'; expected end of input"},
        BadRowCase{"MixedForms", R"({"prompt":"p","chosen":"c","rejected_ids":[1]})",
                   R"(mixes text fields ("prompt", "chosen") and id fields ("rejected_ids") in one row)"},
        BadRowCase{"NoPreferenceFields", R"({"question":"q","answer":"a"})",
                   R"(no preference fields: expected "prompt", "chosen", "rejected" (text) or )"
                   R"("prompt_ids", "chosen_ids", "rejected_ids" (token ids))"}),
    [](const ::testing::TestParamInfo<BadRowCase>& info) { return info.param.name; });

TEST(PreferenceReaderTest, RowWithSeveralProblemsReportsEach) {
  testing::ExpectInvalidInput(
      [] { Parse(R"({"chosen":1})"); },
      kPath + ": 3 problems in 1 invalid row (data.on_bad_row=error)\n  " + kPath +
          ":1: field \"prompt\": missing\n  " + kPath +
          ":1: field \"chosen\": expected a string, found number\n  " + kPath +
          ":1: field \"rejected\": missing");
  DataOptions skip;
  skip.on_bad_row = BadRowPolicy::kSkip;
  const PreferenceDataset dataset = Parse(R"({"chosen":1})", skip);
  ASSERT_EQ(dataset.rejected.size(), 1u);
  EXPECT_EQ(dataset.rejected[0].reason,
            "field \"prompt\": missing; field \"chosen\": expected a string, found number; "
            "field \"rejected\": missing");
}

TEST(PreferenceReaderTest, ALineOverMaxLineBytesIsABadRowNeverParsed) {
  DataOptions options;
  options.on_bad_row = BadRowPolicy::kSkip;
  options.max_line_bytes = 60;
  const std::string fits = R"({"prompt":"q","chosen":" a","rejected":" b"})";
  const std::string too_long = R"({"prompt":"a longer question","chosen":" yes","rejected":" no"})";
  ASSERT_LE(fits.size(), 60u);
  ASSERT_GT(too_long.size(), 60u);
  const PreferenceDataset dataset = Parse(fits + "\n" + too_long, options);
  EXPECT_EQ(dataset.pairs.size(), 1u);
  ASSERT_EQ(dataset.rejected.size(), 1u);
  EXPECT_EQ(dataset.rejected[0].line, 2);
  EXPECT_EQ(dataset.rejected[0].reason,
            "line of " + std::to_string(too_long.size()) + " bytes exceeds data.max_line_bytes=60");
  options.on_bad_row = BadRowPolicy::kError;
  testing::ExpectInvalidInput([&] { Parse(fits + "\n" + too_long, options); },
                              kPath + ": 1 problem in 1 invalid row (data.on_bad_row=error)\n  " + kPath +
                                  ":2: line of " + std::to_string(too_long.size()) +
                                  " bytes exceeds data.max_line_bytes=60");
}

TEST(PreferenceReaderTest, EmptyPromptIsAnErrorOnlyWithoutBos) {
  const std::string text_row = R"({"prompt":"","chosen":"c","rejected":"r"})";
  const std::string ids_row = R"({"prompt_ids":[],"chosen_ids":[1],"rejected_ids":[2]})";
  const PreferenceDataset with_bos = Parse(text_row + "\n" + ids_row);
  ASSERT_EQ(with_bos.pairs.size(), 2u);
  EXPECT_EQ(with_bos.pairs[0].prompt_ids, (Ids{kBos}));
  EXPECT_EQ(with_bos.pairs[1].prompt_ids, (Ids{kBos}));

  const testing::NoBosTokenizer no_bos;
  testing::ExpectInvalidInput(
      [&] { Parse(text_row + "\n" + ids_row, DataOptions{}, no_bos); },
      kPath + ": 2 problems in 2 invalid rows (data.on_bad_row=error)\n  " + kPath +
          ":1: field \"prompt\": empty and the tokenizer has no BOS token\n  " + kPath +
          ":2: field \"prompt_ids\": empty and the tokenizer has no BOS token");
}

// Lines 2, 4, 5 (two problems), 7 are bad; 6 is blank; 8 is dropped (not an error).
const std::string kManyBadRows = kGoodRow + "\n" +                          // 1
                                 R"({"prompt":"p","rejected":"r"})" + "\n" +  // 2
                                 kGoodRow + "\n" +                           // 3
                                 "not json\n" +                              // 4
                                 R"({"prompt":1,"chosen":"c"})" + "\n" +     // 5
                                 "   \n" +                                   // 6
                                 "[]\n" +                                    // 7
                                 R"({"prompt":"p","chosen":"same","rejected":"same"})" + "\n";  // 8

TEST(PreferenceReaderTest, ErrorModeListsAllProblemsUpToTheLimit) {
  DataOptions options;
  options.max_reported_problems = 3;
  testing::ExpectInvalidInput(
      [&] { Parse(kManyBadRows, options); },
      kPath + ": 5 problems in 4 invalid rows (data.on_bad_row=error)\n  " + kPath +
          ":2: field \"chosen\": missing\n  " + kPath +
          ":4: invalid JSON: parse error at column 2: syntax error while parsing value - "
          "invalid literal; last read: 'no'\n  " +
          kPath + ":5: field \"prompt\": expected a string, found number\n  ... 2 more "
                  "(data.max_reported_problems=3)");
  options.max_reported_problems = 20;
  testing::ExpectInvalidInput(
      [&] { Parse(kManyBadRows, options); },
      kPath + ": 5 problems in 4 invalid rows (data.on_bad_row=error)\n  " + kPath +
          ":2: field \"chosen\": missing\n  " + kPath +
          ":4: invalid JSON: parse error at column 2: syntax error while parsing value - "
          "invalid literal; last read: 'no'\n  " +
          kPath + ":5: field \"prompt\": expected a string, found number\n  " + kPath +
          ":5: field \"rejected\": missing\n  " + kPath + ":7: not a JSON object");
}

TEST(PreferenceReaderTest, SkipModeCountsAndListsEveryRejectedRowInOrder) {
  DataOptions options;
  options.on_bad_row = BadRowPolicy::kSkip;
  const PreferenceDataset dataset = Parse(kManyBadRows, options);
  EXPECT_EQ(dataset.path, kPath);
  ASSERT_EQ(dataset.pairs.size(), 2u);
  EXPECT_EQ(dataset.pairs[0].source_line, 1);
  EXPECT_EQ(dataset.pairs[1].source_line, 3);
  EXPECT_EQ(dataset.rows_read, 7);
  EXPECT_EQ(dataset.dropped_by_reason, (std::map<std::string, int64_t>{
                                           {"invalid_row", 4},
                                           {"empty_after_truncation", 0},
                                           {"chosen_equals_rejected", 1}}));
  ASSERT_EQ(dataset.rejected.size(), 5u);
  const std::vector<std::pair<int64_t, std::string>> expected = {
      {2, "field \"chosen\": missing"},
      {4, "invalid JSON: parse error at column 2: syntax error while parsing value - invalid "
          "literal; last read: 'no'"},
      {5, "field \"prompt\": expected a string, found number; field \"rejected\": missing"},
      {7, "not a JSON object"},
      {8, "chosen equals rejected"},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(dataset.rejected[i].line, expected[i].first);
    EXPECT_EQ(dataset.rejected[i].reason, expected[i].second);
  }
}

TEST(PreferenceReaderTest, DroppedPairsAreNeverErrors) {
  DataOptions options;  // on_bad_row: error
  options.max_length = 4;
  options.max_prompt_length = 4;  // a 3-byte prompt + BOS fills the window
  const PreferenceDataset dataset =
      Parse(R"({"prompt":"abc","chosen":"x","rejected":"y"})" "\n"
            R"({"prompt":"a","chosen":"same","rejected":"same"})" "\n"
            R"({"prompt":"a","chosen":"xyA","rejected":"xyB"})" "\n"
            R"({"prompt":"a","chosen":"xA","rejected":"xB"})",
            options);
  ASSERT_EQ(dataset.pairs.size(), 1u);
  EXPECT_EQ(dataset.pairs[0].source_line, 4);
  EXPECT_EQ(dataset.pairs[0].chosen_ids, (Ids{'x', 'A'}));
  EXPECT_EQ(dataset.pairs[0].rejected_ids, (Ids{'x', 'B'}));
  EXPECT_EQ(dataset.dropped_by_reason.at("invalid_row"), 0);
  EXPECT_EQ(dataset.dropped_by_reason.at("empty_after_truncation"), 1);
  EXPECT_EQ(dataset.dropped_by_reason.at("chosen_equals_rejected"), 2);
  ASSERT_EQ(dataset.rejected.size(), 3u);
  EXPECT_EQ(dataset.rejected[0].line, 1);
  EXPECT_EQ(dataset.rejected[0].reason, "field \"chosen\": empty after truncation to max_length=4");
  EXPECT_EQ(dataset.rejected[1].reason, "chosen equals rejected");
  EXPECT_EQ(dataset.rejected[2].reason, "chosen equals rejected after truncation to max_length=4");
}

TEST(PreferenceReaderTest, BlankLinesCountForLineNumbersAndCrlfIsAccepted) {
  const PreferenceDataset dataset = Parse("\n  \n" + kGoodRow + "\r\n\t\r\n" + kGoodRow);
  ASSERT_EQ(dataset.pairs.size(), 2u);
  EXPECT_EQ(dataset.pairs[0].source_line, 3);
  EXPECT_EQ(dataset.pairs[1].source_line, 5);
  EXPECT_EQ(dataset.rows_read, 2);
  EXPECT_EQ(dataset.pairs[1].rejected_ids, (Ids{'r', kEos}));  // no '\r' left in the last field
  EXPECT_TRUE(dataset.rejected.empty());
}

TEST(PreferenceReaderTest, TextRowsTokeniseUnicodeAndIgnoreUnknownKeys) {
  const PreferenceDataset dataset = Parse(
      R"({"id":7,"prompt":"Caf\u00e9?","chosen":"Oui \u20ac","rejected":"No","source":{"x":1}})");
  ASSERT_EQ(dataset.pairs.size(), 1u);
  EXPECT_EQ(dataset.pairs[0].prompt_ids, (Ids{kBos, 'C', 'a', 'f', 0xC3, 0xA9, '?'}));
  EXPECT_EQ(dataset.pairs[0].chosen_ids, (Ids{'O', 'u', 'i', ' ', 0xE2, 0x82, 0xAC, kEos}));
  EXPECT_EQ(dataset.pairs[0].rejected_ids, (Ids{'N', 'o', kEos}));
  EXPECT_EQ(dataset.prompt_tokens, 7);
  EXPECT_EQ(dataset.completion_tokens, 11);
}

TEST(PreferenceReaderTest, PreTokenisedRowsGetBosEosOnceAndAreTruncated) {
  DataOptions options;
  options.max_length = 6;
  options.max_prompt_length = 3;
  options.truncation_mode = TruncationMode::kKeepEnd;
  const PreferenceDataset dataset = Parse(
      R"({"prompt_ids":[256,1,2],"chosen_ids":[3,257],"rejected_ids":[4]})" "\n"
      R"({"prompt_ids":[1,2,3,4],"chosen_ids":[5,6,7,8,9],"rejected_ids":[10]})",
      options);
  ASSERT_EQ(dataset.pairs.size(), 2u);
  EXPECT_EQ(dataset.pairs[0].prompt_ids, (Ids{kBos, 1, 2}));
  EXPECT_EQ(dataset.pairs[0].chosen_ids, (Ids{3, kEos}));
  EXPECT_EQ(dataset.pairs[0].rejected_ids, (Ids{4, kEos}));
  EXPECT_EQ(dataset.pairs[1].prompt_ids, (Ids{kBos, 3, 4}));
  EXPECT_EQ(dataset.pairs[1].chosen_ids, (Ids{5, 6, 7}));
  EXPECT_EQ(dataset.pairs[1].rejected_ids, (Ids{10, kEos}));
  EXPECT_EQ(dataset.prompt_tokens, 6);
  EXPECT_EQ(dataset.completion_tokens, 9);
}

TEST(PreferenceReaderTest, EmptyContentsGiveEmptyDatasetWithAllCounterKeys) {
  const PreferenceDataset dataset = Parse("\n\n");
  EXPECT_TRUE(dataset.pairs.empty());
  EXPECT_EQ(dataset.rows_read, 0);
  EXPECT_EQ(dataset.dropped_by_reason, (std::map<std::string, int64_t>{
                                           {"invalid_row", 0},
                                           {"empty_after_truncation", 0},
                                           {"chosen_equals_rejected", 0}}));
}

}  // namespace
}  // namespace dpo
