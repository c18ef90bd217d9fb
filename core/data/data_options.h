// Options of the preference data pipeline (the `data` section of the job config): sequence
// limits, truncation side and what to do with rows that fail validation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// Which end of an over-long prompt survives truncation. A leading BOS always stays first.
enum class TruncationMode {
  kKeepStart,  // "keep_start": keep the first max_prompt_length tokens
  kKeepEnd,    // "keep_end": keep the last tokens (the end of a prompt is closest to the answer)
};

// What the reader does with a row that fails validation.
enum class BadRowPolicy {
  kError,  // "error": collect every problem of the file, then fail with all of them
  kSkip,   // "skip": drop the row, count it and list it in the rejects file
};

struct DataOptions {
  // Upper bound on prompt + completion tokens of one sequence (TRL's default).
  int64_t max_length = 1024;
  // Upper bound on prompt tokens (BOS included); must leave room for a completion token.
  int64_t max_prompt_length = 512;
  TruncationMode truncation_mode = TruncationMode::kKeepEnd;
  BadRowPolicy on_bad_row = BadRowPolicy::kError;
  // How many problems the error of `on_bad_row: error` lists (the count is always complete).
  int64_t max_reported_problems = 20;

  // Every problem at once, each naming the key, its value and the limit, e.g.
  // `data.max_prompt_length=2000 must be < data.max_length=1024`. Empty when valid.
  std::vector<std::string> Validate() const;
};

// Config names of the enums. Parse* throw Error(kInvalidInput) naming the key, the value and
// the accepted names, e.g. `data.truncation_mode="left" must be one of: keep_start, keep_end`.
const char* TruncationModeName(TruncationMode mode);
TruncationMode ParseTruncationMode(std::string_view name);
const char* BadRowPolicyName(BadRowPolicy policy);
BadRowPolicy ParseBadRowPolicy(std::string_view name);

}  // namespace dpo
