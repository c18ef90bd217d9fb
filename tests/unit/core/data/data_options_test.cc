// DataOptions: TRL defaults, Validate reporting every problem at once, enum config names.
#include "core/data/data_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using testing::ExpectInvalidInput;

TEST(DataOptionsTest, DefaultsFollowTrlAndAreValid) {
  const DataOptions options;
  EXPECT_EQ(options.max_length, 1024);
  EXPECT_EQ(options.max_prompt_length, 512);
  EXPECT_EQ(options.truncation_mode, TruncationMode::kKeepEnd);
  EXPECT_EQ(options.on_bad_row, BadRowPolicy::kError);
  EXPECT_EQ(options.max_reported_problems, 20);
  EXPECT_EQ(options.Validate(), std::vector<std::string>{});
}

TEST(DataOptionsTest, ValidateNamesKeyValueAndLimit) {
  const struct {
    const char* name;
    int64_t max_length;
    int64_t max_prompt_length;
    int64_t max_reported_problems;
    std::vector<std::string> problems;
  } cases[] = {
      {"smallest valid", 2, 1, 1, {}},
      {"prompt longer than window", 1024, 2000, 20,
       {"data.max_prompt_length=2000 must be < data.max_length=1024"}},
      {"prompt fills window", 512, 512, 20,
       {"data.max_prompt_length=512 must be < data.max_length=512"}},
      {"zero prompt", 1024, 0, 20, {"data.max_prompt_length=0 must be >= 1"}},
      {"no reported problems", 1024, 512, 0, {"data.max_reported_problems=0 must be >= 1"}},
      {"everything wrong at once", 1, -3, -1,
       {"data.max_length=1 must be >= 2", "data.max_prompt_length=-3 must be >= 1",
        "data.max_reported_problems=-1 must be >= 1"}},
      {"window too small and prompt too long", 0, 4, 20,
       {"data.max_length=0 must be >= 2", "data.max_prompt_length=4 must be < data.max_length=0"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    DataOptions options;
    options.max_length = c.max_length;
    options.max_prompt_length = c.max_prompt_length;
    options.max_reported_problems = c.max_reported_problems;
    EXPECT_EQ(options.Validate(), c.problems);
  }
}

TEST(DataOptionsTest, TruncationModeNamesRoundTrip) {
  EXPECT_STREQ(TruncationModeName(TruncationMode::kKeepStart), "keep_start");
  EXPECT_STREQ(TruncationModeName(TruncationMode::kKeepEnd), "keep_end");
  for (const auto mode : {TruncationMode::kKeepStart, TruncationMode::kKeepEnd}) {
    EXPECT_EQ(ParseTruncationMode(TruncationModeName(mode)), mode);
  }
}

TEST(DataOptionsTest, BadRowPolicyNamesRoundTrip) {
  EXPECT_STREQ(BadRowPolicyName(BadRowPolicy::kError), "error");
  EXPECT_STREQ(BadRowPolicyName(BadRowPolicy::kSkip), "skip");
  for (const auto policy : {BadRowPolicy::kError, BadRowPolicy::kSkip}) {
    EXPECT_EQ(ParseBadRowPolicy(BadRowPolicyName(policy)), policy);
  }
}

TEST(DataOptionsTest, UnknownEnumNamesListAcceptedNames) {
  ExpectInvalidInput([] { ParseTruncationMode("left"); },
                     "data.truncation_mode=\"left\" must be one of: keep_start, keep_end");
  ExpectInvalidInput([] { ParseTruncationMode("KEEP_END"); },
                     "data.truncation_mode=\"KEEP_END\" must be one of: keep_start, keep_end");
  ExpectInvalidInput([] { ParseBadRowPolicy(""); },
                     "data.on_bad_row=\"\" must be one of: error, skip");
  ExpectInvalidInput([] { ParseBadRowPolicy("ignore"); },
                     "data.on_bad_row=\"ignore\" must be one of: error, skip");
}

}  // namespace
}  // namespace dpo
