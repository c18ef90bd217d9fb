// EvalModeGuard implementation.
#include "core/model/eval_mode_guard.h"

#include <torch/nn/module.h>

namespace dpo {

EvalModeGuard::EvalModeGuard(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
  module_.eval();
}

EvalModeGuard::~EvalModeGuard() { module_.train(was_training_); }

}  // namespace dpo
