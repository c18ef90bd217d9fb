// ShardedOptimizer (distributed.zero_stage 1 and 2): ZeRO-style sharded data parallelism
// (Rajbhandari et al. 2020, arXiv 1910.02054) over the flat buckets of shard_layout.h.
//
// The parameters are moved into one flat buffer per bucket (each parameter becomes a view of
// it) and their gradients into another, so that collectives need no copies. Per step:
//   SynchronizeGradients  stage 1: all-reduce of each gradient bucket;
//                         stage 2: reduce-scatter: this rank gets the summed segment it owns;
//   ClipGradNorm          squared norms of the owned pieces, summed over ranks (one all-reduce);
//   Step                  _fused_adamw_ on the owned pieces only (decayed and exempt pieces as
//                         two kernel calls), then an in-place all-gather of each parameter bucket.
// Each rank holds the AdamW moments of its segments only: 1/N of stage 0's state. The local
// (unreduced) gradient is still a full-size buffer on every rank, as gradient accumulation
// sums into it across micro-batches; stage 2 saves communication, not that buffer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/zero/data_parallel_optimizer.h"
#include "trainer/zero/shard_layout.h"

namespace dpo {

class GradientSync;

class ShardedOptimizer final : public DataParallelOptimizer {
 public:
  // Moves `parameters` (module order, all of one dtype and device) into flat bucket buffers.
  // Requires options.zero_stage 1 or 2 (else Error(kInternal)).
  ShardedOptimizer(Communicator& communicator, std::vector<at::Tensor> parameters, const DataParallelOptions& options);
  ~ShardedOptimizer() override;

  void Arm() override;
  void SynchronizeGradients() override;
  double ClipGradNorm(double max_norm) override;
  void Step(double learning_rate) override;
  void ZeroGrad() override;
  std::vector<std::string> WriteState(const std::string& dir) override;
  void ReadState(const std::string& dir, const std::vector<std::string>& files) override;
  int64_t StateBytes() const override;

  const ShardLayout& layout() const { return layout_; }

 private:
  // The tensors of one _fused_adamw_ call: the owned pieces of one weight-decay class.
  struct KernelGroup {
    double weight_decay = 0;
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  };
  void MoveParametersIntoBuckets();
  void BuildKernelGroups();

  Communicator& communicator_;
  DataParallelOptions options_;
  std::vector<at::Tensor> parameters_;
  ShardLayout layout_;
  std::vector<at::Tensor> param_buffers_;  // per bucket, (padded_size,): the parameters' storage
  std::vector<at::Tensor> grad_buffers_;   // per bucket, (padded_size,): the parameters' .grad
  std::vector<at::Tensor> grad_shards_;    // stage 2, per bucket, (segment,): the reduced owned gradient
  std::vector<at::Tensor> exp_avg_;        // per bucket, (segment,): AdamW moments of the owned segment
  std::vector<at::Tensor> exp_avg_sq_;
  std::vector<KernelGroup> kernel_groups_;
  std::vector<at::Tensor> owned_grads_;    // every owned piece's gradient view, for the norm
  int64_t step_ = 0;
  at::Tensor step_tensor_;  // (), float32 on the parameters' device: the kernel's step count
  std::unique_ptr<GradientSync> gradient_sync_;
};

}  // namespace dpo
