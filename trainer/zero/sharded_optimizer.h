// ShardedOptimizer (distributed.zero_stage 1 and 2): ZeRO-style sharded data parallelism
// (Rajbhandari et al. 2020, arXiv 1910.02054) over the flat buckets of shard_layout.h.
//
// The parameters are moved into one flat buffer per bucket (each parameter becomes a view of
// it), so that the all-gather needs no copies. Gradients:
//   stage 1  like stage 0: every parameter's .grad is a view of a flat bucket buffer, summed
//            over micro-batches, then each bucket is all-reduced (GradientSync);
//   stage 2  .grad is left to autograd. When backward has finished every gradient of a bucket
//            (a hook on each parameter's gradient accumulator), the bucket is copied into one of
//            kBucketsInFlight reused buffers, its reduce-scatter started (non-blocking over
//            MPI: it runs while backward goes on), and the parameters' .grad freed -- in every
//            micro-batch. When the reduction is done, the owned segment is added to this rank's
//            gradient shard. A rank holds only its shard, 1/N of the gradient, plus the
//            buffers in flight.
// Then, per step:
//   ClipGradNorm  squared norms of the owned pieces, summed over ranks (one all-reduce);
//   Step          _fused_adamw_ on the owned pieces only (decayed and exempt pieces as two
//                 kernel calls), then an in-place all-gather of each parameter bucket.
// Each rank holds the AdamW moments of its segments only: 1/N of stage 0's state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/zero/data_parallel_optimizer.h"
#include "trainer/zero/shard_layout.h"

namespace dpo {

class GradientSync;
class PendingReduction;

class ShardedOptimizer final : public DataParallelOptimizer {
 public:
  // Stage 2: reduce-scatters that may run at once (double buffering). Each costs one buffer of
  // the largest bucket and one of its segment.
  static constexpr size_t kBucketsInFlight = 2;

  // Moves `parameters` (module order, all of one dtype and device) into flat bucket buffers.
  // Requires options.zero_stage 1 or 2 (else Error(kInternal)).
  ShardedOptimizer(Communicator& communicator, std::vector<at::Tensor> parameters, const DataParallelOptions& options);
  ~ShardedOptimizer() override;

  void BeginMicroBatch(bool last) override;
  void EndMicroBatch() override;
  void SynchronizeGradients() override;
  double ClipGradNorm(double max_norm) override;
  void Step(double learning_rate) override;
  void ZeroGrad() override;
  std::vector<std::string> WriteState(const std::string& dir) override;
  void ReadState(const std::string& dir, const std::vector<std::string>& files) override;
  int64_t StateBytes() const override;
  int64_t GradientBytes() const override;

  const ShardLayout& layout() const { return layout_; }

 private:
  // The tensors of one _fused_adamw_ call: the owned pieces of one weight-decay class.
  struct KernelGroup {
    double weight_decay = 0;
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  };
  void MoveParametersIntoBuckets();
  void BuildKernelGroups();
  // Stage 2: starts reduce-scattering bucket `b`'s gradients of this micro-batch into
  // grad_shards_[b] (added when the returned reduction completes) and frees them. Waits first
  // for the reduction that last used the buffer it takes.
  std::unique_ptr<PendingReduction> ReduceScatterBucket(size_t b);
  class SegmentReduction;
  // A reused pair of send and receive buffers and the reduction last started on it.
  struct InFlightBuffer {
    at::Tensor flat;     // (largest padded_size,)
    at::Tensor segment;  // (largest segment,)
    std::shared_ptr<SegmentReduction> reduction;
  };

  Communicator& communicator_;
  DataParallelOptions options_;
  std::vector<at::Tensor> parameters_;
  ShardLayout layout_;
  std::vector<at::Tensor> param_buffers_;  // per bucket, (padded_size,): the parameters' storage
  std::vector<at::Tensor> grad_buffers_;   // stage 1, per bucket, (padded_size,): the parameters' .grad
  std::vector<at::Tensor> grad_shards_;    // stage 2, per bucket, (segment,): the reduced owned gradient
  std::vector<InFlightBuffer> in_flight_;  // stage 2: kBucketsInFlight buffers, used in turn
  size_t next_in_flight_ = 0;
  std::vector<at::Tensor> exp_avg_;        // per bucket, (segment,): AdamW moments of the owned segment
  std::vector<at::Tensor> exp_avg_sq_;
  std::vector<KernelGroup> kernel_groups_;
  std::vector<at::Tensor> owned_grads_;    // every owned piece's gradient view, for the norm
  int64_t step_ = 0;
  at::Tensor step_tensor_;  // (), float32 on the parameters' device: the kernel's step count
  std::unique_ptr<GradientSync> gradient_sync_;
};

}  // namespace dpo
