// Error kinds map to the documented process exit codes and names.
#include "core/common/error.h"

#include <gtest/gtest.h>

#include <string>

namespace dpo {
namespace {

TEST(ErrorTest, KindsMapToDocumentedExitCodes) {
  const struct {
    ErrorKind kind;
    int exit_code;
    std::string name;
  } cases[] = {
      {ErrorKind::kInternal, 1, "internal error"},
      {ErrorKind::kInvalidInput, 2, "invalid input"},
      {ErrorKind::kReferenceUnavailable, 3, "reference unavailable"},
      {ErrorKind::kTimeout, 4, "timeout"},
      {ErrorKind::kNoCheckpoint, 5, "no valid checkpoint"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ExitCodeFor(c.kind), c.exit_code);
    EXPECT_EQ(ErrorKindName(c.kind), c.name);
    const Error error(c.kind, "message for " + c.name);
    EXPECT_EQ(error.kind(), c.kind);
    EXPECT_EQ(error.exit_code(), c.exit_code);
    EXPECT_EQ(std::string(error.what()), "message for " + c.name);
  }
}

TEST(ErrorTest, InvalidInputShorthandIsExitTwo) {
  const Error error = InvalidInput("data/train.jsonl:3: field \"chosen\": missing");
  EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
  EXPECT_EQ(error.exit_code(), 2);
  EXPECT_EQ(std::string(error.what()), "data/train.jsonl:3: field \"chosen\": missing");
}

}  // namespace
}  // namespace dpo
