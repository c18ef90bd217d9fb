// Scoring response files with a synthetic task's reward, and per-prompt win rates.
#include "trainer/tools/synthetic_eval.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "trainer/tools/jsonl_io.h"

namespace dpo {
namespace {

nlohmann::ordered_json FileSummary(const ResponseFileScores& scores) {
  nlohmann::ordered_json summary;
  summary["file"] = scores.path;
  summary["rows"] = scores.rows.size();
  summary["mean_reward"] = scores.mean_reward;
  summary["well_formed"] = scores.well_formed_fraction;
  return summary;
}

std::map<std::string, std::vector<double>> RewardsByPrompt(const ResponseFileScores& scores) {
  std::map<std::string, std::vector<double>> rewards;
  for (const auto& row : scores.rows) rewards[row.prompt].push_back(row.reward);
  return rewards;
}

}  // namespace

ResponseFileScores ScoreResponseFile(const SyntheticTask& task, const std::string& path) {
  ResponseFileScores scores;
  scores.path = path;
  double reward_sum = 0.0;
  int64_t well_formed = 0;
  for (const JsonlRow& row : ReadJsonlRows(path)) {
    auto object = ParseJsonlObject(path, row);
    const std::string place = RowPlace(path, row);
    ScoredResponse scored{RequireStringField(object, "prompt", place), RequireStringField(object, "response", place)};
    scored.reward = task.Reward(scored.response);
    scored.well_formed = task.WellFormed(scored.response);
    reward_sum += scored.reward;
    well_formed += scored.well_formed ? 1 : 0;
    object["reward"] = scored.reward;
    object["well_formed"] = scored.well_formed;
    scores.scored_lines.push_back(ToJsonLine(object));
    scores.rows.push_back(std::move(scored));
  }
  if (scores.rows.empty()) throw InvalidInput(path + ": no rows to score");
  const auto count = static_cast<double>(scores.rows.size());
  scores.mean_reward = reward_sum / count;
  scores.well_formed_fraction = static_cast<double>(well_formed) / count;
  return scores;
}

std::string RewardSummaryJson(const SyntheticTask& task, const ResponseFileScores& scores) {
  nlohmann::ordered_json summary;
  summary["task"] = task.name;
  const nlohmann::ordered_json file = FileSummary(scores);  // named: items() does not extend its lifetime
  for (const auto& item : file.items()) summary[item.key()] = item.value();
  return ToJsonLine(summary);
}

ResponseComparison CompareResponses(const ResponseFileScores& a, const ResponseFileScores& b) {
  const auto a_rewards = RewardsByPrompt(a), b_rewards = RewardsByPrompt(b);
  ResponseComparison comparison;
  double win_sum = 0.0;
  for (const auto& [prompt, rewards_a] : a_rewards) {
    const auto it = b_rewards.find(prompt);
    if (it == b_rewards.end()) {
      ++comparison.prompts_only_in_a;
      continue;
    }
    double wins = 0.0;
    for (const double reward_a : rewards_a) {
      for (const double reward_b : it->second) wins += reward_a > reward_b ? 1.0 : reward_a == reward_b ? 0.5 : 0.0;
    }
    win_sum += wins / static_cast<double>(rewards_a.size() * it->second.size());
    ++comparison.prompts_compared;
  }
  for (const auto& item : b_rewards) comparison.prompts_only_in_b += a_rewards.count(item.first) ? 0 : 1;
  if (comparison.prompts_compared == 0) {
    throw InvalidInput("compare: " + a.path + " and " + b.path + " have no prompt in common");
  }
  comparison.win_rate_a_over_b = win_sum / static_cast<double>(comparison.prompts_compared);
  return comparison;
}

std::string ComparisonJson(const SyntheticTask& task, const ResponseFileScores& a, const ResponseFileScores& b,
                           const ResponseComparison& comparison) {
  nlohmann::ordered_json line;
  line["task"] = task.name;
  line["a"] = FileSummary(a);
  line["b"] = FileSummary(b);
  line["prompts_compared"] = comparison.prompts_compared;
  line["prompts_only_in_a"] = comparison.prompts_only_in_a;
  line["prompts_only_in_b"] = comparison.prompts_only_in_b;
  line["win_rate_a_over_b"] = comparison.win_rate_a_over_b;
  return ToJsonLine(line);
}

}  // namespace dpo
