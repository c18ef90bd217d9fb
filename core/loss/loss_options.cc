// Loss names and option validation.
#include "core/loss/loss_options.h"

#include <array>
#include <cmath>
#include <sstream>
#include <utility>

namespace dpo {
namespace {

constexpr std::array<std::pair<LossType, const char*>, 16> kLossNames = {{
    {LossType::kSigmoid, "sigmoid"},       {LossType::kRobust, "robust"},
    {LossType::kHinge, "hinge"},           {LossType::kIpo, "ipo"},
    {LossType::kExoPair, "exo_pair"},      {LossType::kNcaPair, "nca_pair"},
    {LossType::kBcoPair, "bco_pair"},      {LossType::kSppoHard, "sppo_hard"},
    {LossType::kAot, "aot"},               {LossType::kAotUnpaired, "aot_unpaired"},
    {LossType::kApoZero, "apo_zero"},      {LossType::kApoDown, "apo_down"},
    {LossType::kDiscopop, "discopop"},     {LossType::kSigmoidNorm, "sigmoid_norm"},
    {LossType::kSft, "sft"},               {LossType::kSimpo, "simpo"},
}};

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

std::optional<LossType> ParseLossType(std::string_view name) {
  for (const auto& [type, type_name] : kLossNames) {
    if (name == type_name) return type;
  }
  return std::nullopt;
}

const char* LossTypeName(LossType type) {
  for (const auto& [candidate, name] : kLossNames) {
    if (candidate == type) return name;
  }
  return "unknown";
}

std::string SupportedLossTypes() {
  std::string names;
  for (const auto& entry : kLossNames) names += (names.empty() ? "" : ", ") + std::string(entry.second);
  return names;
}

bool NeedsReference(LossType type) { return type != LossType::kSft && type != LossType::kSimpo; }

std::vector<std::string> LossOptions::Validate() const {
  std::vector<std::string> problems;
  const double eps = label_smoothing;
  if (loss_type.empty()) problems.push_back("training.loss_type: at least one loss type is required");
  if (!loss_weights.empty() && loss_weights.size() != loss_type.size()) {
    problems.push_back("training.loss_weights has " + std::to_string(loss_weights.size()) +
                       " values but training.loss_type has " + std::to_string(loss_type.size()));
  }
  for (size_t i = 0; i < loss_weights.size(); ++i) {
    if (!std::isfinite(loss_weights[i]) || loss_weights[i] < 0) {
      problems.push_back("training.loss_weights[" + std::to_string(i) + "]=" + Number(loss_weights[i]) +
                         " must be finite and >= 0");
    }
  }
  if (!(beta > 0) || !std::isfinite(beta)) problems.push_back("training.beta=" + Number(beta) + " must be > 0");
  if (!(eps >= 0 && eps < 1)) {
    problems.push_back("training.label_smoothing=" + Number(eps) + " must be in [0, 1)");
  }
  if (!(rpo_alpha >= 0) || !std::isfinite(rpo_alpha)) {
    problems.push_back("training.rpo_alpha=" + Number(rpo_alpha) + " must be >= 0");
  }
  for (const auto& name : loss_type) {
    const auto type = ParseLossType(name);
    if (!type) {
      problems.push_back("training.loss_type \"" + name + "\" is unknown (supported: " + SupportedLossTypes() + ")");
      continue;
    }
    const bool smoothing_below_half = *type == LossType::kSigmoid || *type == LossType::kRobust ||
                                      *type == LossType::kAot || *type == LossType::kAotUnpaired;
    if (smoothing_below_half && !(eps < 0.5)) {
      problems.push_back("training.label_smoothing=" + Number(eps) + " must be in [0, 0.5) for loss_type " + name);
    }
    if (*type == LossType::kExoPair && !(eps > 0)) {
      problems.push_back("training.label_smoothing=" + Number(eps) +
                         " must be > 0 for loss_type exo_pair (1e-3 is typical)");
    }
    if (*type == LossType::kDiscopop && !(discopop_tau > 0)) {
      problems.push_back("training.discopop_tau=" + Number(discopop_tau) + " must be > 0");
    }
    if (*type == LossType::kSimpo && !std::isfinite(simpo_gamma)) {
      problems.push_back("training.simpo_gamma must be finite");
    }
  }
  return problems;
}

}  // namespace dpo
