// DataParallelOptimizer: how one rank's gradients become the next parameters, with every rank
// holding the same full parameters afterwards. TrainStep calls, once per optimizer step:
//   BeginMicroBatch() and EndMicroBatch() around each micro-batch's forward and backward,
//   SynchronizeGradients(), ClipGradNorm(), Step() unless the loss or the norm is not finite,
//   ZeroGrad().
// Two implementations, chosen by distributed.zero_stage:
//   0  ReplicatedOptimizer: all-reduced gradients, a full AdamW state on every rank.
//   1  ShardedOptimizer: all-reduced gradients; each rank updates only the parameters it owns
//      (ShardLayout) with its 1/N of the AdamW state, then the parameters are all-gathered.
//   2  ShardedOptimizer: like 1, but gradients are reduce-scattered bucket by bucket as backward
//      finishes them: each rank keeps only the summed gradient of what it owns (plus one bucket
//      in flight), and moves half the bytes of an all-reduce.
// Every call is collective where world_size > 1: all ranks make the same calls in the same order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torch::optim {
class AdamWOptions;
}

namespace dpo {

class Communicator;

struct DataParallelOptions {
  int zero_stage = 0;             // 0, 1 or 2
  int64_t bucket_bytes = 25 << 20;  // gradient and parameter bucket size
  bool overlap = false;           // start bucket reductions during the last backward pass
  // AdamW, applied the HF Trainer's way (core/optim/weight_decay_groups.h).
  double learning_rate = 1e-6;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

class DataParallelOptimizer {
 public:
  virtual ~DataParallelOptimizer() = default;

  // Around each micro-batch of the step. From BeginMicroBatch on, gradient buckets that backward
  // finishes may start their reduction (stage 2 always; stages 0 and 1 with overlap, in the
  // `last` micro-batch). EndMicroBatch is collective under stage 2 (the micro-batch's remaining
  // buckets are reduced): a rank that skips a micro-batch's work (a failed reference fetch) must
  // still call both, contributing zeros, so that the ranks' collectives stay in step.
  virtual void BeginMicroBatch(bool last) = 0;
  virtual void EndMicroBatch() = 0;
  // Afterwards this rank holds the sum over ranks of the gradients it updates: all of them
  // (stages 0 and 1) or those of its shard (stage 2). Call once per step on every rank, also
  // when the step will be discarded, so that the ranks' collectives stay in step.
  virtual void SynchronizeGradients() = 0;
  // The L2 norm of the whole summed gradient (every rank gets the same value), and, when
  // max_norm > 0 and max_norm / (norm + 1e-6) < 1, the gradients scaled by that factor: torch's
  // clip_grad_norm_. max_norm <= 0: the norm only.
  virtual double ClipGradNorm(double max_norm) = 0;
  // One AdamW update at `learning_rate`; afterwards every rank holds the full updated parameters.
  virtual void Step(double learning_rate) = 0;
  // Zeroes the gradients in place (the bucket views stay).
  virtual void ZeroGrad() = 0;

  // Checkpoint files. Writes this rank's share of the optimizer state into directory `dir`
  // (which every rank can reach) and returns the names written: "optimizer.pt" on rank 0 for
  // stage 0 (nothing on the others, whose state is identical), one
  // OptimizerShardFileName(rank, world_size) per rank for stages 1 and 2. Not collective.
  virtual std::vector<std::string> WriteState(const std::string& dir) = 0;
  // Loads the state saved in checkpoint `dir` as `files` (what WriteState returned on every
  // rank, in rank order): a whole optimizer.pt or the shards of any world size, so a checkpoint
  // of any stage and world size resumes under any other. Throws Error(kInvalidInput) naming the
  // file when the state does not fit these parameters.
  virtual void ReadState(const std::string& dir, const std::vector<std::string>& files) = 0;

  // Bytes of optimizer state (both AdamW moments) this rank holds once it has taken a step.
  virtual int64_t StateBytes() const = 0;
  // Bytes of gradient storage this rank holds between micro-batches (stage 2: its reduced shard
  // and the buffer of the bucket being reduced; otherwise every parameter's gradient).
  virtual int64_t GradientBytes() const = 0;
};

// LibTorch's AdamW options for these settings (weight decay for the decayed group).
torch::optim::AdamWOptions AdamWOptionsOf(const DataParallelOptions& options);

// The optimizer for `parameters` (the policy's, module order) under options.zero_stage.
// `communicator` must outlive it. Throws Error(kInvalidInput) for a stage other than 0, 1 or 2.
std::unique_ptr<DataParallelOptimizer> MakeDataParallelOptimizer(Communicator& communicator,
                                                                 const std::vector<at::Tensor>& parameters,
                                                                 const DataParallelOptions& options);

}  // namespace dpo
