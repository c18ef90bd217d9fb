// Ground-truth evaluation of generated responses on a synthetic task: `dpo-data reward` (mean
// reward of a file) and `dpo-data compare` (win rate of one file over another, per prompt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/tools/synthetic_task.h"

namespace dpo {

// One {"prompt","response"} row (as written by dpo-generate) and its ground-truth reward.
struct ScoredResponse {
  std::string prompt;
  std::string response;
  double reward = 0.0;
  bool well_formed = false;
};

struct ResponseFileScores {
  std::string path;
  std::vector<ScoredResponse> rows;       // in file order
  std::vector<std::string> scored_lines;  // each input object + "reward" and "well_formed"
  double mean_reward = 0.0;
  double well_formed_fraction = 0.0;
};

// Reads and scores `path`. Throws Error(kInvalidInput) naming `path:line` and the field for a
// row that is not a JSON object with string "prompt" and "response", or when the file has no rows.
ResponseFileScores ScoreResponseFile(const SyntheticTask& task, const std::string& path);

// The summary line of `dpo-data reward`: {"task","file","rows","mean_reward","well_formed"}.
std::string RewardSummaryJson(const SyntheticTask& task, const ResponseFileScores& scores);

struct ResponseComparison {
  int64_t prompts_compared = 0;  // prompts with responses in both files
  int64_t prompts_only_in_a = 0;
  int64_t prompts_only_in_b = 0;
  // Mean over compared prompts of P(reward of a random a-response > that of a random b-response)
  // + 0.5 P(equal), over all (a, b) response pairs of the prompt; with one response per prompt
  // on each side this is the plain per-prompt win rate with ties counting half.
  double win_rate_a_over_b = 0.0;
};

// Throws Error(kInvalidInput) when no prompt has responses in both files.
ResponseComparison CompareResponses(const ResponseFileScores& a, const ResponseFileScores& b);

// The line of `dpo-data compare`: {"task","a":{"file","rows","mean_reward","well_formed"},"b":{...},
// "prompts_compared","prompts_only_in_a","prompts_only_in_b","win_rate_a_over_b"}.
std::string ComparisonJson(const SyntheticTask& task, const ResponseFileScores& a, const ResponseFileScores& b,
                           const ResponseComparison& comparison);

}  // namespace dpo
