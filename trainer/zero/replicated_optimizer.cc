// Stage 0: all-reduce, clip, FusedAdamW on every rank.
#include "trainer/zero/replicated_optimizer.h"

#include <torch/torch.h>

#include <filesystem>
#include <limits>

#include "core/common/error.h"
#include "core/optim/fused_adamw.h"
#include "core/optim/weight_decay_groups.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_sync.h"
#include "trainer/zero/adam_state_files.h"

namespace dpo {

ReplicatedOptimizer::ReplicatedOptimizer(Communicator& communicator, std::vector<at::Tensor> parameters,
                                         const DataParallelOptions& options)
    : communicator_(communicator), parameters_(std::move(parameters)) {
  const auto adamw = AdamWOptionsOf(options);
  adamw_ = std::make_unique<FusedAdamW>(WeightDecayGroups(parameters_, adamw), adamw);
  if (communicator_.world_size() > 1) {
    gradient_sync_ = std::make_unique<GradientSync>(communicator_, parameters_, options.bucket_bytes, options.overlap);
  }
}

ReplicatedOptimizer::~ReplicatedOptimizer() = default;

void ReplicatedOptimizer::BeginMicroBatch(bool last) {
  if (gradient_sync_ && last) gradient_sync_->Arm();
}

void ReplicatedOptimizer::SynchronizeGradients() {
  if (gradient_sync_) gradient_sync_->Finish();
}

double ReplicatedOptimizer::ClipGradNorm(double max_norm) {
  return torch::nn::utils::clip_grad_norm_(parameters_, max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity());
}

void ReplicatedOptimizer::Step(double learning_rate) {
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learning_rate);
  adamw_->step();
}

void ReplicatedOptimizer::ZeroGrad() {
  // In place: LibTorch 2.x's Optimizer::zero_grad frees gradients and would drop bucket views.
  for (const auto& parameter : parameters_) {
    if (parameter.grad().defined()) parameter.grad().zero_();
  }
}

std::vector<std::string> ReplicatedOptimizer::WriteState(const std::string& dir) {
  if (communicator_.rank() != 0) return {};
  const std::string path = (std::filesystem::path(dir) / kOptimizerFileName).string();
  try {
    torch::save(*adamw_, path);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kInternal, path + ": cannot write optimizer state: " + e.what_without_backtrace());
  }
  return {kOptimizerFileName};
}

void ReplicatedOptimizer::ReadState(const std::string& dir, const std::vector<std::string>& files) {
  if (files.size() == 1 && files.front() == kOptimizerFileName) {
    const std::string path = (std::filesystem::path(dir) / kOptimizerFileName).string();
    const torch::Device device = parameters_.empty() ? torch::Device(torch::kCPU) : parameters_.front().device();
    try {
      torch::load(*adamw_, path, device);
    } catch (const c10::Error& e) {
      throw InvalidInput(path + ": cannot load into this optimizer: " + e.what_without_backtrace());
    }
    return;
  }
  int64_t total = 0;
  for (const auto& parameter : parameters_) total += parameter.numel();
  LoadAdamState(ReadOptimizerShards(dir, files, total), *adamw_, parameters_);
}

int64_t ReplicatedOptimizer::StateBytes() const {
  // Both moments of every parameter (allocated at the first update).
  int64_t bytes = 0;
  for (const auto& parameter : parameters_) bytes += 2 * static_cast<int64_t>(parameter.nbytes());
  return bytes;
}

int64_t ReplicatedOptimizer::GradientBytes() const {
  int64_t bytes = 0;
  for (const auto& parameter : parameters_) bytes += static_cast<int64_t>(parameter.nbytes());
  return bytes;
}

}  // namespace dpo
