// ReplicatedOptimizer (distributed.zero_stage 0): plain data parallelism. Gradients are
// all-reduced (GradientSync, on more than one rank), every rank clips and applies the same
// FusedAdamW update to its full copy of the parameters and holds the full AdamW state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/zero/data_parallel_optimizer.h"

namespace dpo {

class FusedAdamW;
class GradientSync;

class ReplicatedOptimizer final : public DataParallelOptimizer {
 public:
  ReplicatedOptimizer(Communicator& communicator, std::vector<at::Tensor> parameters, const DataParallelOptions& options);
  ~ReplicatedOptimizer() override;

  void BeginMicroBatch(bool last) override;
  void EndMicroBatch() override {}
  void SynchronizeGradients() override;
  double ClipGradNorm(double max_norm) override;
  void Step(double learning_rate) override;
  void ZeroGrad() override;
  std::vector<std::string> WriteState(const std::string& dir) override;
  void ReadState(const std::string& dir, const std::vector<std::string>& files) override;
  int64_t StateBytes() const override;
  int64_t GradientBytes() const override;

  FusedAdamW& adamw() { return *adamw_; }

 private:
  Communicator& communicator_;
  std::vector<at::Tensor> parameters_;
  std::unique_ptr<FusedAdamW> adamw_;
  std::unique_ptr<GradientSync> gradient_sync_;  // world size > 1
};

}  // namespace dpo
