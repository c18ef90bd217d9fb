// Implicit DPO rewards of responses: reward = beta * (log pi(y|x) - log pi_ref(y|x)), with the
// sequences built, truncated and scored exactly as in training (SequenceBuilder, CollateSequences,
// ComputeSequenceLogProbs). The library behind dpo-reward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/data_options.h"
#include "core/data/sequence_builder.h"

namespace dpo {

class CausalLm;

struct RewardScoringOptions {
  double beta = 0.1;        // > 0 (TRL's default)
  int64_t batch_size = 16;  // sequences per forward, >= 1
  DataOptions data;         // max_length, max_prompt_length, truncation_mode as in training
};

struct SequenceScore {
  double policy_log_prob = 0.0;  // sum over completion tokens (EOS included), float32 math
  double reference_log_prob = 0.0;
  double reward = 0.0;  // beta * (policy_log_prob - reference_log_prob)
  int64_t completion_tokens = 0;
};

// The models and tokenizer loaded from two model directories.
struct ScoringModels {
  std::shared_ptr<CausalLm> policy;
  std::shared_ptr<CausalLm> reference;
  std::shared_ptr<const Tokenizer> tokenizer;
};

// Loads both directories (LoadModelDirectory, LoadTokenizerForModel(dir, "byte")). Throws
// Error(kInvalidInput) when the two tokenizers differ (naming both directories and tokenizers),
// or when the vocabularies of the configs differ from each other or are smaller than the
// tokenizer's.
ScoringModels LoadScoringModels(const std::string& policy_dir, const std::string& reference_dir);

// Thread safety: one thread at a time (the models are). Keeps references to the models and the
// tokenizer, which must outlive it.
class RewardScorer {
 public:
  // Throws Error(kInvalidInput) for beta <= 0, batch_size < 1, or max_length above either model's
  // n_positions.
  RewardScorer(CausalLm& policy, CausalLm& reference, const Tokenizer& tokenizer, RewardScoringOptions options);

  // Scores sequences already built by builder() (prompt with BOS, completion with EOS,
  // truncated), in batches of batch_size sorted by length, in eval mode under NoGradGuard.
  // Result i belongs to sequences[i].
  std::vector<SequenceScore> Score(const std::vector<TokenizedSequence>& sequences);

  const SequenceBuilder& builder() const { return builder_; }
  const RewardScoringOptions& options() const { return options_; }

 private:
  CausalLm& policy_;
  CausalLm& reference_;
  const Tokenizer& tokenizer_;
  RewardScoringOptions options_;
  SequenceBuilder builder_;
};

struct RewardFileSummary {
  std::string path;
  int64_t rows = 0;
  int64_t response_rows = 0;  // {"prompt","response"} rows
  int64_t pair_rows = 0;      // {"prompt","chosen","rejected"} rows
  double beta = 0.0;
  double mean_reward = 0.0;      // over response rows
  double reward_accuracy = 0.0;  // over pair rows: fraction with chosen_reward > rejected_reward
  double mean_margin = 0.0;      // over pair rows: chosen_reward - rejected_reward
  double mean_chosen_reward = 0.0;
  double mean_rejected_reward = 0.0;

  // One JSON line; the statistics of a row kind absent from the file are null.
  std::string ToJson() const;
};

struct ScoredRewardFile {
  // Each input object (keys kept) plus, for response rows: "reward", "policy_log_prob",
  // "reference_log_prob", "completion_tokens"; for pair rows: "chosen_reward", "rejected_reward",
  // "policy_chosen_log_prob", "policy_rejected_log_prob", "reference_chosen_log_prob",
  // "reference_rejected_log_prob", "chosen_completion_tokens", "rejected_completion_tokens",
  // "chosen_wins" (strict >).
  std::vector<std::string> lines;
  RewardFileSummary summary;
};

// Reads rows {"prompt","response"} and/or {"prompt","chosen","rejected"} (text; unknown keys kept)
// and scores them. Every bad row is reported before anything is scored: Error(kInvalidInput)
// listing `path:line: field "response": missing`, `...: field "chosen": empty after truncation to
// max_length=64`, etc. (the first 20, with the total count). An empty file is an error too.
ScoredRewardFile ScoreRewardFile(RewardScorer& scorer, const std::string& path);

}  // namespace dpo
