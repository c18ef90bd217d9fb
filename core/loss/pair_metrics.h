// TRL's pair metrics (rewards/chosen, rewards/accuracies, logps/chosen, ...) kept as sums so
// they can be added over micro-batches and reduced across ranks, then turned into means.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/loss/dpo_loss.h"

namespace dpo {

struct PairMetricSums {
  double pairs = 0;
  double reward_chosen = 0;     // sum of beta * chosen log-ratio
  double reward_rejected = 0;   // sum of beta * rejected log-ratio
  double reward_accuracy = 0;   // number of pairs with reward_chosen > reward_rejected (strict)
  double logp_chosen = 0;       // sum of policy chosen log-probs
  double logp_rejected = 0;
  double logits_chosen = 0;     // sum over chosen completion tokens of the vocabulary-mean logit
  double logits_rejected = 0;
  double chosen_tokens = 0;     // completion tokens, for the logits means
  double rejected_tokens = 0;

  void Add(const PairMetricSums& other);
  // A flat vector for an all-reduce (sum), and back.
  std::vector<double> Pack() const;
  static PairMetricSums Unpack(const std::vector<double>& packed);
  // Means with TRL's keys: rewards/chosen, rewards/rejected, rewards/accuracies,
  // rewards/margins, logps/chosen, logps/rejected, logits/chosen, logits/rejected.
  std::map<std::string, double> Means() const;
};

// Rewards use the raw log-ratios whatever the loss type; with a reference-free loss the
// reference tensors may be undefined and count as 0. Logit sums are (B,) tensors from
// SequenceLogProbs::sum_mean_logits (undefined: counted as 0).
PairMetricSums ComputePairMetricSums(double beta, const PairLogProbs& batch, const at::Tensor& chosen_logit_sums,
                                     const at::Tensor& rejected_logit_sums);

}  // namespace dpo
