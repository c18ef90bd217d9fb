// The DPO loss family's names and options (TRL's names and defaults; docs/losses.md has the math).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

enum class LossType {
  kSigmoid, kRobust, kHinge, kIpo, kExoPair, kNcaPair, kBcoPair, kSppoHard, kAot, kAotUnpaired,
  kApoZero, kApoDown, kDiscopop, kSigmoidNorm, kSft, kSimpo,
};

std::optional<LossType> ParseLossType(std::string_view name);
const char* LossTypeName(LossType type);
// The comma-separated list of every supported name, for error messages.
std::string SupportedLossTypes();
// sft and simpo use the policy alone; every other type needs reference log-probs.
bool NeedsReference(LossType type);

struct LossOptions {
  // One or more LossType names, summed with loss_weights. Default: {"sigmoid"}.
  std::vector<std::string> loss_type = {"sigmoid"};
  // One weight per loss type. Default: empty (1 for every type).
  std::vector<double> loss_weights;
  // Strength of the pull toward the reference. Default: 0.1.
  double beta = 0.1;
  // eps: cDPO for sigmoid, the flip rate for robust, exo_pair's eps. Default: 0.
  double label_smoothing = 0.0;
  // SimPO's target margin. Default: 0.5.
  double simpo_gamma = 0.5;
  // DiscoPOP's temperature. Default: 0.05.
  double discopop_tau = 0.05;
  // > 0 adds rpo_alpha x the token-mean NLL of the chosen completions. Default: 0.
  double rpo_alpha = 0.0;

  // Every problem at once, each naming the key, the value and the limit.
  std::vector<std::string> Validate() const;
};

}  // namespace dpo
