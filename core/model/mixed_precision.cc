// Autocast state through ATen's per-device-type switches.
#include "core/model/mixed_precision.h"

#include <ATen/autocast_mode.h>

namespace dpo {
namespace {

void Apply(const AutocastState& state) {
  at::autocast::set_autocast_enabled(at::kCUDA, state.cuda_enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, state.cuda_dtype);
  at::autocast::set_autocast_enabled(at::kCPU, state.cpu_enabled);
  at::autocast::set_autocast_dtype(at::kCPU, state.cpu_dtype);
}

}  // namespace

AutocastState AutocastState::Current() {
  return {at::autocast::is_autocast_enabled(at::kCUDA), at::autocast::get_autocast_dtype(at::kCUDA),
          at::autocast::is_autocast_enabled(at::kCPU), at::autocast::get_autocast_dtype(at::kCPU)};
}

std::optional<c10::ScalarType> AutocastState::ComputeDtype(c10::DeviceType device_type) const {
  if (device_type == c10::DeviceType::CUDA && cuda_enabled) return cuda_dtype;
  if (device_type == c10::DeviceType::CPU && cpu_enabled) return cpu_dtype;
  return std::nullopt;
}

AutocastStateGuard::AutocastStateGuard(const AutocastState& state) : previous_(AutocastState::Current()) {
  at::autocast::increment_nesting();
  Apply(state);
}

AutocastStateGuard::~AutocastStateGuard() {
  Apply(previous_);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

BfloatAutocastGuard::BfloatAutocastGuard(bool enabled) {
  if (!enabled) return;
  AutocastState state = AutocastState::Current();
  state.cuda_enabled = state.cpu_enabled = true;
  state.cuda_dtype = state.cpu_dtype = c10::kBFloat16;
  guard_.emplace(state);
}

}  // namespace dpo
