// LoadPreferenceData and WriteRejects against real files: fixtures under tests/fixtures/data,
// the missing-file error, and the rejects file read back.
#include "core/data/preference_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/file_io.h"
#include "core/tokenizer/byte_tokenizer.h"
#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<TokenId>;
constexpr TokenId kBos = ByteTokenizer::kBosId;
constexpr TokenId kEos = ByteTokenizer::kEosId;
const std::string kFixtures = std::string(DPO_FIXTURES_DIR) + "/data/";

class PreferenceFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dpo_reader_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  ByteTokenizer tokenizer_;
};

TEST_F(PreferenceFilesTest, LoadsFixtureWithTextAndIdRows) {
  const std::string path = kFixtures + "pairs_valid.jsonl";
  const PreferenceDataset dataset = LoadPreferenceData(path, tokenizer_, DataOptions{});
  EXPECT_EQ(dataset.path, path);
  EXPECT_EQ(dataset.rows_read, 3);
  ASSERT_EQ(dataset.pairs.size(), 3u);
  EXPECT_EQ(dataset.pairs[0].source_line, 1);
  EXPECT_EQ(dataset.pairs[0].chosen_ids, (Ids{'4', kEos}));
  EXPECT_EQ(dataset.pairs[0].prompt_ids.size(), 13u);  // BOS + "What is 2+2?"
  EXPECT_EQ(dataset.pairs[1].source_line, 3);
  EXPECT_EQ(dataset.pairs[1].prompt_ids, (Ids{kBos, 72, 105}));
  EXPECT_EQ(dataset.pairs[1].chosen_ids, (Ids{33, kEos}));
  EXPECT_EQ(dataset.pairs[1].rejected_ids, (Ids{63, kEos}));
  EXPECT_EQ(dataset.pairs[2].source_line, 4);
  EXPECT_EQ(dataset.pairs[2].rejected_ids, (Ids{'b', 'y', 'e', kEos}));
  EXPECT_EQ(dataset.prompt_tokens, 13 + 3 + 7);
  EXPECT_EQ(dataset.completion_tokens, (2 + 2) + (2 + 2) + (3 + 4));
  EXPECT_TRUE(dataset.rejected.empty());
}

TEST_F(PreferenceFilesTest, MissingFileErrorNamesPath) {
  const std::string path = (dir_ / "absent.jsonl").string();
  testing::ExpectInvalidInput([&] { LoadPreferenceData(path, tokenizer_, DataOptions{}); },
                              "cannot open " + path + ": No such file or directory");
}

TEST_F(PreferenceFilesTest, ErrorModeNamesTheFixturePath) {
  const std::string path = kFixtures + "pairs_with_bad_rows.jsonl";
  testing::ExpectInvalidInput(
      [&] { LoadPreferenceData(path, tokenizer_, DataOptions{}); },
      path + ": 2 problems in 2 invalid rows (data.on_bad_row=error)\n  " + path +
          ":2: field \"rejected\": missing\n  " + path +
          ":4: field \"chosen_ids\": id 999 at index 0 is outside the vocabulary [0, 259)");
}

TEST_F(PreferenceFilesTest, SkipModeWritesRejectsFileReadableBack) {
  const std::string data_path = kFixtures + "pairs_with_bad_rows.jsonl";
  DataOptions options;
  options.on_bad_row = BadRowPolicy::kSkip;
  const PreferenceDataset dataset = LoadPreferenceData(data_path, tokenizer_, options);
  ASSERT_EQ(dataset.pairs.size(), 2u);
  EXPECT_EQ(dataset.pairs[0].source_line, 1);
  EXPECT_EQ(dataset.pairs[1].source_line, 5);
  EXPECT_EQ(dataset.dropped_by_reason.at("invalid_row"), 2);
  EXPECT_EQ(dataset.dropped_by_reason.at("chosen_equals_rejected"), 1);

  const std::string rejects_path = (dir_ / "rejects.jsonl").string();
  WriteRejects(rejects_path, dataset);
  std::istringstream lines(ReadFile(rejects_path));
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  const std::vector<nlohmann::json> expected = {
      {{"file", data_path}, {"line", 2}, {"reason", "field \"rejected\": missing"}},
      {{"file", data_path}, {"line", 3}, {"reason", "chosen equals rejected"}},
      {{"file", data_path},
       {"line", 4},
       {"reason", "field \"chosen_ids\": id 999 at index 0 is outside the vocabulary [0, 259)"}},
  };
  EXPECT_EQ(rows, expected);
  // Written atomically: nothing but the rejects file is left in the directory.
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(entries, std::vector<std::string>{"rejects.jsonl"});
}

TEST_F(PreferenceFilesTest, WriteRejectsWithNothingRejectedEmptiesAnOldFile) {
  const std::string rejects_path = (dir_ / "rejects.jsonl").string();
  WriteFileAtomically(rejects_path, "{\"file\":\"old\",\"line\":1,\"reason\":\"stale\"}\n");
  PreferenceDataset dataset;
  dataset.path = "data/train.jsonl";
  WriteRejects(rejects_path, dataset);
  EXPECT_EQ(ReadFile(rejects_path), "");
}

TEST_F(PreferenceFilesTest, RejectReasonsWithQuotesAndUnicodeStayValidJson) {
  PreferenceDataset dataset;
  dataset.path = "data/\"odd\" name.jsonl";
  dataset.rejected = {{7, "field \"prompt\": invalid UTF-8 at byte 5"}, {9, "caf\xC3\xA9\ttab"}};
  const std::string rejects_path = (dir_ / "rejects.jsonl").string();
  WriteRejects(rejects_path, dataset);
  EXPECT_EQ(ReadFile(rejects_path),
            "{\"file\":\"data/\\\"odd\\\" name.jsonl\",\"line\":7,\"reason\":\"field "
            "\\\"prompt\\\": invalid UTF-8 at byte 5\"}\n"
            "{\"file\":\"data/\\\"odd\\\" name.jsonl\",\"line\":9,\"reason\":\"caf\xC3\xA9\\ttab\"}\n");
}

}  // namespace
}  // namespace dpo
