// Implicit-reward scoring of response and pair files with a policy / reference checkpoint pair.
#include "trainer/tools/reward_scoring.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/data/batch.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "core/model/eval_mode_guard.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"
#include "trainer/tools/jsonl_io.h"

namespace dpo {
namespace {

// (N,) float tensor on any device -> doubles.
std::vector<double> ToDoubles(const at::Tensor& values) {
  const auto cpu = values.to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
}

// A parsed row: its object and the indices of its sequences in the flat list being scored.
struct PendingRow {
  nlohmann::ordered_json object;
  bool is_pair = false;
  size_t first_sequence = 0;  // response, or chosen (then rejected at first_sequence + 1)
};

double Mean(double sum, int64_t count) { return count > 0 ? sum / static_cast<double>(count) : 0.0; }

// Parses one row into `pending` and, when it is valid, appends its sequences (response, or chosen
// then rejected) to `sequences`. Returns the row's problems, each prefixed with `path:line: `.
std::vector<std::string> ParseRewardRow(const SequenceBuilder& builder, const std::string& path, const JsonlRow& row,
                                        PendingRow& pending, std::vector<TokenizedSequence>& sequences) {
  const std::string place = RowPlace(path, row);
  try {
    pending.object = ParseJsonlObject(path, row);
  } catch (const Error& e) {
    return {e.what()};
  }
  const bool has_response = pending.object.contains("response");
  pending.is_pair = pending.object.contains("chosen") || pending.object.contains("rejected");
  if (has_response && pending.is_pair) {
    return {place + ": a row holds either \"response\" or \"chosen\" and \"rejected\", not both"};
  }
  if (!has_response && !pending.is_pair) {
    return {place + ": field \"response\": missing (rows are {\"prompt\",\"response\"} or " +
            "{\"prompt\",\"chosen\",\"rejected\"})"};
  }
  const std::vector<std::string> fields = pending.is_pair ? std::vector<std::string>{"prompt", "chosen", "rejected"}
                                                          : std::vector<std::string>{"prompt", "response"};
  std::vector<std::string> problems, texts;
  for (const auto& field : fields) {
    try {
      texts.push_back(RequireStringField(pending.object, field, place));
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  if (!problems.empty()) return problems;
  std::vector<TokenizedSequence> built;
  for (size_t f = 1; f < fields.size(); ++f) {
    SequenceOutcome outcome = builder.SequenceFromText(texts[0], texts[f]);
    if (outcome.status == BuildStatus::kOk) {
      built.push_back(std::move(outcome.sequence));
      continue;
    }
    // The builder calls the completion "completion"; the row calls it "response"/"chosen"/"rejected".
    const std::string& field = outcome.field == "completion" ? fields[f] : outcome.field;
    problems.push_back(place + ": field \"" + field + "\": " + outcome.reason);
    if (outcome.field == "prompt") break;  // the same prompt problem for both completions
  }
  if (problems.empty()) sequences.insert(sequences.end(), built.begin(), built.end());
  return problems;
}

}  // namespace

ScoringModels LoadScoringModels(const std::string& policy_dir, const std::string& reference_dir) {
  ScoringModels models;
  models.tokenizer = LoadTokenizerForModel(policy_dir, "byte");
  const auto reference_tokenizer = LoadTokenizerForModel(reference_dir, "byte");
  if (models.tokenizer->Name() != reference_tokenizer->Name()) {
    throw InvalidInput("--policy " + policy_dir + " uses tokenizer \"" + models.tokenizer->Name() +
                       "\" but --reference " + reference_dir + " uses \"" + reference_tokenizer->Name() +
                       "\": both checkpoints must use the same tokenizer");
  }
  // Which flag a loading error is about.
  auto load = [](const std::string& flag, const std::string& directory) {
    try {
      return LoadModelDirectory(directory);
    } catch (const Error& e) {
      throw Error(e.kind(), flag + ": " + e.what());
    }
  };
  models.policy = load("--policy", policy_dir);
  models.reference = load("--reference", reference_dir);
  const int64_t policy_vocab = models.policy->config().vocab_size;
  const int64_t reference_vocab = models.reference->config().vocab_size;
  if (policy_vocab != reference_vocab) {
    throw InvalidInput("--policy " + policy_dir + " has vocab_size=" + std::to_string(policy_vocab) +
                       " but --reference " + reference_dir + " has vocab_size=" + std::to_string(reference_vocab));
  }
  if (models.tokenizer->VocabSize() > policy_vocab) {
    throw InvalidInput("--policy " + policy_dir + ": vocab_size=" + std::to_string(policy_vocab) +
                       " is smaller than the " + "tokenizer's " + std::to_string(models.tokenizer->VocabSize()));
  }
  return models;
}

RewardScorer::RewardScorer(CausalLm& policy, CausalLm& reference, const Tokenizer& tokenizer,
                           RewardScoringOptions options)
    : policy_(policy),
      reference_(reference),
      tokenizer_(tokenizer),
      options_(options),
      builder_(tokenizer, options.data) {
  std::vector<std::string> problems;
  if (!(options_.beta > 0.0) || !std::isfinite(options_.beta)) {
    std::ostringstream beta;
    beta << options_.beta;
    problems.push_back("beta=" + beta.str() + " must be > 0");
  }
  if (options_.batch_size < 1)
    problems.push_back("batch_size=" + std::to_string(options_.batch_size) + " must be >= 1");
  for (const auto& [name, model] :
       {std::pair<const char*, CausalLm*>{"policy", &policy_}, {"reference", &reference_}}) {
    if (options_.data.max_length > model->config().max_positions) {
      problems.push_back("max_length=" + std::to_string(options_.data.max_length) + " exceeds the " + name +
                         " model's " + model->config().FieldName("max_positions") + "=" + std::to_string(model->config().max_positions));
    }
  }
  if (!problems.empty()) throw InvalidInput("reward scoring: " + JoinProblems(problems));
}

std::vector<SequenceScore> RewardScorer::Score(const std::vector<TokenizedSequence>& sequences) {
  torch::NoGradGuard no_grad;
  EvalModeGuard policy_mode(policy_.module()), reference_mode(reference_.module());
  // Similar lengths share a batch, so little compute goes to padding (it never changes a result).
  std::vector<size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto length = [&](size_t i) { return sequences[i].prompt_ids.size() + sequences[i].completion_ids.size(); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return length(a) < length(b); });

  std::vector<SequenceScore> scores(sequences.size());
  const auto batch_size = static_cast<size_t>(options_.batch_size);
  for (size_t start = 0; start < order.size(); start += batch_size) {
    const size_t end = std::min(order.size(), start + batch_size);
    std::vector<TokenizedSequence> batch;
    for (size_t k = start; k < end; ++k) batch.push_back(sequences[order[k]]);
    const SequenceBatch collated = CollateSequences(batch, tokenizer_.PadId());  // (B, T)
    auto log_probs = [&](CausalLm& model) {
      const auto device = model.OutputEmbedding().device();
      return ComputeSequenceLogProbs(model, collated.input_ids.to(device), collated.completion_mask.to(device));
    };
    const SequenceLogProbs policy = log_probs(policy_), reference = log_probs(reference_);
    const auto policy_sums = ToDoubles(policy.sum_log_probs), reference_sums = ToDoubles(reference.sum_log_probs);
    const auto counts = collated.completion_mask.sum(1).to(torch::kLong).contiguous();
    for (size_t k = start; k < end; ++k) {
      SequenceScore& score = scores[order[k]];
      score.policy_log_prob = policy_sums[k - start];
      score.reference_log_prob = reference_sums[k - start];
      score.reward = options_.beta * (score.policy_log_prob - score.reference_log_prob);
      score.completion_tokens = counts[static_cast<int64_t>(k - start)].item<int64_t>();
    }
  }
  return scores;
}

std::string RewardFileSummary::ToJson() const {
  nlohmann::ordered_json line;
  line["file"] = path;
  line["rows"] = rows;
  line["response_rows"] = response_rows;
  line["pair_rows"] = pair_rows;
  line["beta"] = beta;
  line["mean_reward"] = response_rows > 0 ? nlohmann::ordered_json(mean_reward) : nlohmann::ordered_json();
  for (const auto& [key, value] : {std::pair<const char*, double>{"reward_accuracy", reward_accuracy},
                                   {"mean_margin", mean_margin},
                                   {"mean_chosen_reward", mean_chosen_reward},
                                   {"mean_rejected_reward", mean_rejected_reward}}) {
    line[key] = pair_rows > 0 ? nlohmann::ordered_json(value) : nlohmann::ordered_json();
  }
  return ToJsonLine(line);
}

ScoredRewardFile ScoreRewardFile(RewardScorer& scorer, const std::string& path) {
  const SequenceBuilder& builder = scorer.builder();
  std::vector<PendingRow> rows;
  std::vector<TokenizedSequence> sequences;
  std::vector<std::string> problems;
  size_t bad_rows = 0;
  for (const JsonlRow& row : ReadJsonlRows(path)) {
    PendingRow pending;
    pending.first_sequence = sequences.size();
    std::vector<std::string> row_problems = ParseRewardRow(builder, path, row, pending, sequences);
    if (row_problems.empty()) {
      rows.push_back(std::move(pending));
      continue;
    }
    ++bad_rows;
    problems.insert(problems.end(), row_problems.begin(), row_problems.end());
  }
  ThrowIfProblems(path + ": " + CountOf(static_cast<int64_t>(problems.size()), "problem") + " in " +
                      CountOf(static_cast<int64_t>(bad_rows), "invalid row"),
                  problems, static_cast<size_t>(std::max<int64_t>(scorer.options().data.max_reported_problems, 0)));
  if (rows.empty()) throw InvalidInput(path + ": no rows to score");

  const std::vector<SequenceScore> scores = scorer.Score(sequences);
  ScoredRewardFile result;
  RewardFileSummary& summary = result.summary;
  summary.path = path;
  summary.beta = scorer.options().beta;
  double reward_sum = 0.0, chosen_sum = 0.0, rejected_sum = 0.0;
  int64_t chosen_wins = 0;
  for (PendingRow& row : rows) {
    auto& object = row.object;
    const SequenceScore& first = scores[row.first_sequence];
    if (!row.is_pair) {
      object["reward"] = first.reward;
      object["policy_log_prob"] = first.policy_log_prob;
      object["reference_log_prob"] = first.reference_log_prob;
      object["completion_tokens"] = first.completion_tokens;
      reward_sum += first.reward;
      ++summary.response_rows;
    } else {
      const SequenceScore& rejected = scores[row.first_sequence + 1];
      object["chosen_reward"] = first.reward;
      object["rejected_reward"] = rejected.reward;
      object["policy_chosen_log_prob"] = first.policy_log_prob;
      object["policy_rejected_log_prob"] = rejected.policy_log_prob;
      object["reference_chosen_log_prob"] = first.reference_log_prob;
      object["reference_rejected_log_prob"] = rejected.reference_log_prob;
      object["chosen_completion_tokens"] = first.completion_tokens;
      object["rejected_completion_tokens"] = rejected.completion_tokens;
      object["chosen_wins"] = first.reward > rejected.reward;
      chosen_sum += first.reward;
      rejected_sum += rejected.reward;
      chosen_wins += first.reward > rejected.reward ? 1 : 0;
      ++summary.pair_rows;
    }
    result.lines.push_back(ToJsonLine(object));
  }
  summary.rows = summary.response_rows + summary.pair_rows;
  summary.mean_reward = Mean(reward_sum, summary.response_rows);
  summary.reward_accuracy = Mean(static_cast<double>(chosen_wins), summary.pair_rows);
  summary.mean_chosen_reward = Mean(chosen_sum, summary.pair_rows);
  summary.mean_rejected_reward = Mean(rejected_sum, summary.pair_rows);
  summary.mean_margin = summary.mean_chosen_reward - summary.mean_rejected_reward;
  return result;
}

}  // namespace dpo
