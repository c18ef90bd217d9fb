// Policy forward, reference lookup, loss and metrics of one micro-batch.
#include "trainer/loop/preference_step.h"

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/data/batch.h"
#include "core/model/causal_lm.h"
#include "core/model/mixed_precision.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {
namespace {

std::vector<const TokenizedPair*> Select(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices) {
  std::vector<const TokenizedPair*> selected;
  selected.reserve(indices.size());
  for (const int64_t index : indices) selected.push_back(&pairs.at(static_cast<size_t>(index)));
  return selected;
}

}  // namespace

PreferenceStep::PreferenceStep(CausalLm& policy, ReferenceScorer* reference, const DpoLoss& loss, TokenId pad_id,
                               LogProbOptions log_prob_options, bool bf16_autocast)
    : policy_(policy),
      reference_(reference),
      loss_(loss),
      pad_id_(pad_id),
      log_prob_options_(log_prob_options),
      bf16_autocast_(bf16_autocast),
      device_(policy.module().parameters().front().device()) {}

void PreferenceStep::Prefetch(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices) {
  if (reference_ != nullptr) reference_->Prefetch(CollatePairs(Select(pairs, indices), pad_id_));
}

LossNormalizer PreferenceStep::NormalizerFor(const std::vector<TokenizedPair>& pairs,
                                             const std::vector<int64_t>& indices) {
  LossNormalizer normalizer;
  normalizer.pairs = static_cast<double>(indices.size());
  for (const int64_t index : indices) {
    normalizer.chosen_tokens += static_cast<double>(std::max<size_t>(1, pairs.at(static_cast<size_t>(index)).chosen_ids.size()));
  }
  return normalizer;
}

void PreferenceStep::Run(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& indices,
                         const LossNormalizer& normalizer, bool backward, StepTotals& totals) {
  const int64_t b = static_cast<int64_t>(indices.size());
  const SequenceBatch batch = CollatePairs(Select(pairs, indices), pad_id_);  // on the CPU
  std::optional<BfloatAutocastGuard> autocast(std::in_place, bf16_autocast_);
  // (2B, T) -> (2B,): rows [0, B) chosen, [B, 2B) rejected.
  const SequenceLogProbs policy = ComputeSequenceLogProbs(policy_, batch.input_ids.to(device_),
                                                          batch.completion_mask.to(device_), log_prob_options_);

  PairLogProbs inputs;
  inputs.policy_chosen_log_probs = policy.sum_log_probs.slice(0, 0, b);
  inputs.policy_rejected_log_probs = policy.sum_log_probs.slice(0, b);
  inputs.chosen_token_counts = policy.token_counts.slice(0, 0, b);
  inputs.rejected_token_counts = policy.token_counts.slice(0, b);
  if (reference_ != nullptr) {
    const at::Tensor reference = reference_->Score(batch).to(policy.sum_log_probs.device());
    inputs.reference_chosen_log_probs = reference.slice(0, 0, b);
    inputs.reference_rejected_log_probs = reference.slice(0, b);
  } else if (loss_.needs_reference()) {
    throw Error(ErrorKind::kInternal, "the loss needs reference log-probs but no reference is configured");
  }

  const at::Tensor loss = loss_.Compute(inputs, normalizer);
  autocast.reset();  // backward runs outside autocast, as in PyTorch's recipe
  if (backward) loss.backward();
  totals.loss += loss.item<double>();
  totals.metrics.Add(ComputePairMetricSums(loss_.options().beta, inputs, policy.sum_mean_logits.slice(0, 0, b),
                                           policy.sum_mean_logits.slice(0, b)));
  totals.tokens += batch.num_tokens;
}

}  // namespace dpo
