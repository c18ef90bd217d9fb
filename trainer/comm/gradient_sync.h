// GradientSync: reduces a model's gradients across ranks once per step, bucket by bucket, either
// after the last backward pass or overlapped with it. The reduction is an all-reduce of each
// bucket (data parallelism), or whatever the owner starts per bucket (the reduce-scatter of
// trainer/zero/sharded_optimizer.h).
//
// Gradients live in flat bucket buffers (AssignBucketViewGradients) planned over the parameters
// in reverse order, the order in which backward finishes them. With overlap, a post-hook on each
// parameter's gradient accumulator counts finished gradients during the last micro-batch's
// backward; when a bucket is complete its all-reduce starts (StartAllReduceSum) while backward
// goes on. Buckets always start in bucket order, on every rank, so the ranks' collectives match
// whatever order backward finishes them in; Finish() starts the rest and waits for all.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torch::autograd {
struct Node;
}

namespace dpo {

class Communicator;
class PendingReduction;

class GradientSync {
 public:
  // Starts the reduction of bucket `b`; the returned operation is waited for in Finish().
  using StartBucket = std::function<std::unique_ptr<PendingReduction>(size_t bucket)>;

  // Gives `parameters` bucket-view gradients and all-reduces those buckets. `communicator` must
  // outlive this object. With `overlap`, installs one post-hook per parameter (inert until Arm()).
  GradientSync(Communicator& communicator, const std::vector<at::Tensor>& parameters, int64_t bucket_bytes,
               bool overlap);
  // Buckets the owner planned: `buckets[b]` are the parameters whose gradients make up bucket b,
  // in the order backward finishes them; `start(b)` reduces it.
  GradientSync(const std::vector<std::vector<at::Tensor>>& buckets, StartBucket start, bool overlap);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call just before the step's last backward pass: from now on, finished buckets start their
  // all-reduce at once. A no-op without overlap.
  void Arm();
  // Collective. Starts every bucket not started yet (all of them without overlap), in bucket
  // order, and waits for all: afterwards every gradient holds the sum over ranks. Call exactly
  // once per step on every rank, also when the step will be discarded, so that the ranks'
  // collectives stay in step.
  void Finish();

  size_t num_buckets() const { return bucket_sizes_.size(); }

 private:
  void InstallHooks(const std::vector<std::vector<at::Tensor>>& buckets, bool overlap);
  void OnGradientReady(size_t bucket);
  void StartReadyBuckets();

  StartBucket start_;
  std::vector<int64_t> bucket_sizes_;             // parameters per bucket
  std::vector<int64_t> ready_;                    // finished gradients per bucket, this step
  std::vector<std::unique_ptr<PendingReduction>> pending_;  // started reductions, by bucket
  size_t next_to_start_ = 0;
  bool armed_ = false;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive with their hooks
};

}  // namespace dpo
