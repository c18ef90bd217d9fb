// Autocast state through ATen's switches, whose names changed in LibTorch 2.4.
#include "core/model/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace dpo {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void Apply(const AutocastState& state) {
  at::autocast::set_autocast_enabled(at::kCUDA, state.cuda_enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, state.cuda_dtype);
  at::autocast::set_autocast_enabled(at::kCPU, state.cpu_enabled);
  at::autocast::set_autocast_dtype(at::kCPU, state.cpu_dtype);
}
#else
void Apply(const AutocastState& state) {
  at::autocast::set_enabled(state.cuda_enabled);
  at::autocast::set_autocast_gpu_dtype(state.cuda_dtype);
  at::autocast::set_cpu_enabled(state.cpu_enabled);
  at::autocast::set_autocast_cpu_dtype(state.cpu_dtype);
}
#endif

}  // namespace

AutocastState AutocastState::Current() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return {at::autocast::is_autocast_enabled(at::kCUDA), at::autocast::get_autocast_dtype(at::kCUDA),
          at::autocast::is_autocast_enabled(at::kCPU), at::autocast::get_autocast_dtype(at::kCPU)};
#else
  return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype(), at::autocast::is_cpu_enabled(),
          at::autocast::get_autocast_cpu_dtype()};
#endif
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
  state.cuda_enabled = true;
  state.cuda_dtype = c10::kBFloat16;
  guard_.emplace(state);
}

}  // namespace dpo
