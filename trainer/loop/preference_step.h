// One micro-batch of preference pairs through policy, reference and loss. Shared by training
// (with backward) and evaluation (without): the same batching, log-probs and metrics.
#pragma once

#include <cstdint>
#include <vector>

#include <c10/core/Device.h>

#include "core/data/sequence_builder.h"
#include "core/loss/dpo_loss.h"
#include "core/loss/pair_metrics.h"
#include "core/loss/sequence_log_probs.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

class CausalLm;
class ReferenceScorer;

// Sums over the micro-batches of a step (or of an evaluation pass).
struct StepTotals {
  double loss = 0;         // sum of micro-batch losses (already normalised: the step's loss)
  PairMetricSums metrics;  // TRL's pair metrics, as sums
  int64_t tokens = 0;      // non-padding tokens of chosen + rejected sequences
};

class PreferenceStep {
 public:
  // `reference` may be null when the loss needs no reference (sft, simpo); a precomputed table is
  // one more scorer (PrecomputedReferenceScorer). The objects must outlive this one. Batches go to the device the
  // policy is on at construction; `bf16_autocast` runs the forward passes (policy and reference)
  // under bf16 autocast.
  PreferenceStep(CausalLm& policy, ReferenceScorer* reference, const DpoLoss& loss, TokenId pad_id,
                 LogProbOptions log_prob_options, bool bf16_autocast = false);

  // Forward of the pairs `indices` of `pairs`; with `backward`, also accumulates the gradients
  // of loss(normalizer) into the policy's .grad. Adds the loss value, metrics and tokens to
  // `totals`.
  // Throws Error(kReferenceUnavailable) when the reference scorer cannot answer.
  void Run(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices,
           const LossNormalizer& normalizer, bool backward, StepTotals& totals);

  // Tells the reference scorer that the pairs `indices` will be scored soon (no-op without one).
  void Prefetch(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices);

  // The normalizer of a set of pairs: the loss of Run() over them is then their mean.
  static LossNormalizer NormalizerFor(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices);

 private:
  CausalLm& policy_;
  ReferenceScorer* reference_;
  const DpoLoss& loss_;
  TokenId pad_id_;
  LogProbOptions log_prob_options_;
  bool bf16_autocast_;
  c10::Device device_;  // the policy's
};

}  // namespace dpo
