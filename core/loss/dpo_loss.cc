// Loss formulas (docs/losses.md, "Loss types"). Notation: s_c, s_r are the chosen and rejected
// log-ratios (policy - reference), D = s_c - s_r, b = beta, e = label_smoothing,
// logsig = log-sigmoid.
#include "core/loss/dpo_loss.h"

#include <torch/torch.h>

#include <cmath>

#include "core/common/error.h"
#include "core/common/problems.h"

namespace dpo {
namespace {

using torch::Tensor;

Tensor LogSigmoid(const Tensor& x) { return torch::log_sigmoid(x); }

// -(1-e) logsig(x) - e logsig(-x): sigmoid DPO, conservative when e > 0.
Tensor SmoothedSigmoidLoss(const Tensor& x, double e) {
  return -(1.0 - e) * LogSigmoid(x) - e * LogSigmoid(-x);
}

Tensor ClampedCounts(const Tensor& counts, const Tensor& like) {
  return counts.clamp_min(1).to(like.scalar_type());
}

Tensor SortedValues(const Tensor& x) { return std::get<0>(torch::sort(x)); }

}  // namespace

DpoLoss::DpoLoss(LossOptions options) : options_(std::move(options)) {
  const std::vector<std::string> problems = options_.Validate();
  ThrowIfProblems("invalid loss configuration:", problems);
  for (size_t i = 0; i < options_.loss_type.size(); ++i) {
    types_.push_back(*ParseLossType(options_.loss_type[i]));
    weights_.push_back(options_.loss_weights.empty() ? 1.0 : options_.loss_weights[i]);
    needs_reference_ = needs_reference_ || NeedsReference(types_.back());
  }
}

LossNormalizer DpoLoss::BatchNormalizer(const PairLogProbs& batch) {
  LossNormalizer normalizer;
  normalizer.pairs = static_cast<double>(batch.policy_chosen_log_probs.size(0));
  normalizer.chosen_tokens = static_cast<double>(batch.chosen_token_counts.clamp_min(1).sum().item<int64_t>());
  return normalizer;
}

Tensor DpoLoss::PerPairLoss(LossType type, const PairLogProbs& batch) const {
  const double b = options_.beta;
  const double e = options_.label_smoothing;
  const Tensor& policy_chosen = batch.policy_chosen_log_probs;
  const Tensor& policy_rejected = batch.policy_rejected_log_probs;
  const Tensor chosen_counts = ClampedCounts(batch.chosen_token_counts, policy_chosen);
  const Tensor rejected_counts = ClampedCounts(batch.rejected_token_counts, policy_chosen);

  switch (type) {
    case LossType::kSimpo:
      return -LogSigmoid(b * (policy_chosen / chosen_counts - policy_rejected / rejected_counts) -
                         options_.simpo_gamma);
    case LossType::kSft:
      throw Error(ErrorKind::kInternal, "sft has no per-pair loss: it is a token-level batch term");
    default:
      break;
  }

  const Tensor s_c = policy_chosen - batch.reference_chosen_log_probs;
  const Tensor s_r = policy_rejected - batch.reference_rejected_log_probs;
  const Tensor bd = b * (s_c - s_r);
  switch (type) {
    case LossType::kSigmoid:
      return SmoothedSigmoidLoss(bd, e);
    case LossType::kRobust:
      return (-(1.0 - e) * LogSigmoid(bd) + e * LogSigmoid(-bd)) / (1.0 - 2.0 * e);
    case LossType::kHinge:
      return torch::relu(1.0 - bd);
    case LossType::kIpo:
      return (s_c / chosen_counts - s_r / rejected_counts - 1.0 / (2.0 * b)).pow(2);
    case LossType::kExoPair:
      return torch::sigmoid(bd) * (LogSigmoid(bd) - std::log(1.0 - e)) +
             torch::sigmoid(-bd) * (LogSigmoid(-bd) - std::log(e));
    case LossType::kNcaPair:
      return -LogSigmoid(b * s_c) - 0.5 * LogSigmoid(-b * s_c) - 0.5 * LogSigmoid(-b * s_r);
    case LossType::kBcoPair:
      return -LogSigmoid(b * s_c) - LogSigmoid(-b * s_r);
    case LossType::kSppoHard:
      return (s_c - 1.0 / (2.0 * b)).pow(2) + (s_r + 1.0 / (2.0 * b)).pow(2);
    case LossType::kAot: {
      const Tensor policy_margins = SortedValues(policy_chosen - policy_rejected);
      const Tensor reference_margins =
          SortedValues(batch.reference_chosen_log_probs - batch.reference_rejected_log_probs);
      return SmoothedSigmoidLoss(b * (policy_margins - reference_margins), e);
    }
    case LossType::kAotUnpaired:
      return SmoothedSigmoidLoss(b * (SortedValues(s_c) - SortedValues(s_r)), e);
    case LossType::kApoZero:
      return (1.0 - torch::sigmoid(b * s_c)) + torch::sigmoid(b * s_r);
    case LossType::kApoDown:
      return torch::sigmoid(b * s_c) + (1.0 - torch::sigmoid(bd));
    case LossType::kDiscopop: {
      // exp(-z) * sigmoid(z / tau) evaluated as exp(-z + logsig(z / tau)): no overflow where
      // the modulation is 0, and no arbitrary clamp.
      const double tau = options_.discopop_tau;
      const Tensor modulation = torch::sigmoid(bd / tau);
      return -LogSigmoid(bd) * (1.0 - modulation) + torch::exp(-bd + LogSigmoid(bd / tau));
    }
    case LossType::kSigmoidNorm:
      return -LogSigmoid(b * (s_c / chosen_counts - s_r / rejected_counts));
    default:
      throw Error(ErrorKind::kInternal, std::string("unhandled loss type ") + LossTypeName(type));
  }
}

Tensor DpoLoss::Compute(const PairLogProbs& batch, const LossNormalizer& normalizer) const {
  const Tensor& policy_chosen = batch.policy_chosen_log_probs;
  // Token-mean NLL of the chosen completions, normalised by the global token count.
  const auto chosen_nll = [&] { return -policy_chosen.sum() / normalizer.chosen_tokens; };
  Tensor total = torch::zeros({}, policy_chosen.options());
  for (size_t k = 0; k < types_.size(); ++k) {
    const Tensor term = types_[k] == LossType::kSft ? chosen_nll()
                                                    : PerPairLoss(types_[k], batch).sum() / normalizer.pairs;
    total = total + weights_[k] * term;
  }
  if (options_.rpo_alpha > 0) total = total + options_.rpo_alpha * chosen_nll();
  return total;
}

}  // namespace dpo
