// CUDA bf16 autocast through ATen's autocast switches (whose names changed in LibTorch 2.4).
#include "core/model/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace dpo {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool CudaAutocastEnabled() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void SetCudaAutocast(bool enabled) {
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
}
#else
bool CudaAutocastEnabled() { return at::autocast::is_enabled(); }
void SetCudaAutocast(bool enabled) {
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(enabled);
}
#endif

}  // namespace

BfloatAutocastGuard::BfloatAutocastGuard(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  previous_enabled_ = CudaAutocastEnabled();
  at::autocast::increment_nesting();
  SetCudaAutocast(true);
}

BfloatAutocastGuard::~BfloatAutocastGuard() {
  if (!enabled_) return;
  SetCudaAutocast(previous_enabled_);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace dpo
