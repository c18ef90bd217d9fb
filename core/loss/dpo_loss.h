// The DPO loss family over per-sequence log-probs (math in docs/losses.md, TRL's names).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

#include "core/loss/loss_options.h"

namespace dpo {

// Per-pair inputs of a loss; every tensor is (B,). Log-probs are per-sequence sums over
// completion tokens (float32, or float64 in gradient checks). Reference-free losses ignore the
// reference tensors, which may then be undefined.
struct PairLogProbs {
  at::Tensor policy_chosen_log_probs;
  at::Tensor policy_rejected_log_probs;
  at::Tensor reference_chosen_log_probs;
  at::Tensor reference_rejected_log_probs;
  at::Tensor chosen_token_counts;    // int64
  at::Tensor rejected_token_counts;  // int64
};

// Denominators of the batch loss. A step's loss is a mean over its global batch (every
// micro-batch on every rank): passing the global counts makes the micro-batch losses add up
// to exactly that mean, so gradient accumulation and data parallelism do not change the math.
struct LossNormalizer {
  double pairs = 0;          // pairs in the global batch
  double chosen_tokens = 0;  // chosen completion tokens (each count clamped to >= 1), for sft/rpo
};

class DpoLoss {
 public:
  // Throws Error(kInvalidInput) listing every problem of `options`.
  explicit DpoLoss(LossOptions options);

  const LossOptions& options() const { return options_; }
  bool needs_reference() const { return needs_reference_; }

  // sum_k w_k * (sum over pairs of loss_k) / normalizer.pairs, plus the token-level terms
  // (sft, rpo_alpha) over normalizer.chosen_tokens. A scalar in the inputs' dtype.
  at::Tensor Compute(const PairLogProbs& batch, const LossNormalizer& normalizer) const;

  // (B,) per-pair losses of one pairwise type. aot and aot_unpaired sort within `batch`.
  // Not defined for sft, which is a token-level batch scalar.
  at::Tensor PerPairLoss(LossType type, const PairLogProbs& batch) const;

  // The normalizer that makes Compute() the mean over `batch` alone.
  static LossNormalizer BatchNormalizer(const PairLogProbs& batch);

 private:
  LossOptions options_;
  std::vector<LossType> types_;
  std::vector<double> weights_;
  bool needs_reference_ = false;
};

}  // namespace dpo
