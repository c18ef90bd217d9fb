// Pair metric sums and their means.
#include "core/loss/pair_metrics.h"

#include <torch/torch.h>

#include "core/common/error.h"

namespace dpo {
namespace {

double SumOf(const at::Tensor& tensor) {
  return tensor.defined() ? tensor.detach().to(torch::kDouble).sum().item<double>() : 0.0;
}

at::Tensor OrZeros(const at::Tensor& tensor, const at::Tensor& like) {
  return tensor.defined() ? tensor.detach().to(torch::kDouble) : torch::zeros_like(like);
}

constexpr size_t kPackedSize = 10;

}  // namespace

void PairMetricSums::Add(const PairMetricSums& other) {
  const std::vector<double> mine = Pack(), theirs = other.Pack();
  std::vector<double> sum(kPackedSize);
  for (size_t i = 0; i < kPackedSize; ++i) sum[i] = mine[i] + theirs[i];
  *this = Unpack(sum);
}

std::vector<double> PairMetricSums::Pack() const {
  return {pairs,         reward_chosen,   reward_rejected, reward_accuracy, logp_chosen,
          logp_rejected, logits_chosen,   logits_rejected, chosen_tokens,   rejected_tokens};
}

PairMetricSums PairMetricSums::Unpack(const std::vector<double>& packed) {
  if (packed.size() != kPackedSize) {
    throw Error(ErrorKind::kInternal, "pair metrics: expected " + std::to_string(kPackedSize) + " values, found " +
                                          std::to_string(packed.size()));
  }
  PairMetricSums sums;
  sums.pairs = packed[0];
  sums.reward_chosen = packed[1];
  sums.reward_rejected = packed[2];
  sums.reward_accuracy = packed[3];
  sums.logp_chosen = packed[4];
  sums.logp_rejected = packed[5];
  sums.logits_chosen = packed[6];
  sums.logits_rejected = packed[7];
  sums.chosen_tokens = packed[8];
  sums.rejected_tokens = packed[9];
  return sums;
}

std::map<std::string, double> PairMetricSums::Means() const {
  const double n = pairs > 0 ? pairs : 1.0;
  return {
      {"rewards/chosen", reward_chosen / n},
      {"rewards/rejected", reward_rejected / n},
      {"rewards/accuracies", reward_accuracy / n},
      {"rewards/margins", (reward_chosen - reward_rejected) / n},
      {"logps/chosen", logp_chosen / n},
      {"logps/rejected", logp_rejected / n},
      {"logits/chosen", chosen_tokens > 0 ? logits_chosen / chosen_tokens : 0.0},
      {"logits/rejected", rejected_tokens > 0 ? logits_rejected / rejected_tokens : 0.0},
  };
}

PairMetricSums ComputePairMetricSums(double beta, const PairLogProbs& batch, const at::Tensor& chosen_logit_sums,
                                     const at::Tensor& rejected_logit_sums) {
  const auto policy_chosen = batch.policy_chosen_log_probs.detach().to(torch::kDouble);
  const auto policy_rejected = batch.policy_rejected_log_probs.detach().to(torch::kDouble);
  const auto rewards_chosen = beta * (policy_chosen - OrZeros(batch.reference_chosen_log_probs, policy_chosen));
  const auto rewards_rejected = beta * (policy_rejected - OrZeros(batch.reference_rejected_log_probs, policy_rejected));
  PairMetricSums sums;
  sums.pairs = static_cast<double>(policy_chosen.size(0));
  sums.reward_chosen = SumOf(rewards_chosen);
  sums.reward_rejected = SumOf(rewards_rejected);
  sums.reward_accuracy = SumOf(rewards_chosen > rewards_rejected);
  sums.logp_chosen = SumOf(policy_chosen);
  sums.logp_rejected = SumOf(policy_rejected);
  sums.logits_chosen = SumOf(chosen_logit_sums);
  sums.logits_rejected = SumOf(rejected_logit_sums);
  sums.chosen_tokens = SumOf(batch.chosen_token_counts);
  sums.rejected_tokens = SumOf(batch.rejected_token_counts);
  return sums;
}

}  // namespace dpo
