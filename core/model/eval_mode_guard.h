// EvalModeGuard: puts a module in eval mode for a scope and restores its previous mode.
#pragma once

namespace torch::nn {
class Module;
}

namespace dpo {

class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module);
  ~EvalModeGuard();
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace dpo
