// Communicator: how ranks agree. Gradients and metric sums are SUMMED across ranks: each
// rank's loss is already normalised by the global batch (see LossNormalizer), so the sum is the
// gradient of the global mean. Sharded data parallelism (trainer/zero/) also reduce-scatters
// gradients and all-gathers parameters over flat buffers split into world_size equal segments. Implementations: SingleProcessCommunicator (world size 1),
// MpiCommunicator (CPU tensors, MPI_Allreduce over flattened buckets) and NcclCommunicator
// (CUDA tensors, built when LibTorch has CUDA).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace dpo {

// A started collective (Communicator::StartAllReduceSum, StartReduceScatterSum).
class PendingReduction {
 public:
  virtual ~PendingReduction() = default;
  // Blocks until the sum is in the tensor. Call exactly once.
  virtual void Wait() = 0;
  // Lets the library make progress without blocking; true when complete.
  virtual bool Test() = 0;
};

// Thread safety: every call is collective and made from one thread per rank, in the same order
// on every rank (started reductions included). Failures throw dpo::Error; a collective that
// never completes is ended by the Watchdog (exit 4), not by the communicator.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Rank among the processes of this host: which GPU this rank drives.
  virtual int local_rank() const { return 0; }
  virtual std::string Name() const = 0;

  // In-place sum of each tensor across ranks. Every rank passes tensors of the same shapes and
  // dtypes in the same order. Undefined tensors are not allowed.
  virtual void AllReduceSum(std::vector<at::Tensor>& tensors) = 0;
  virtual void AllReduceSum(std::vector<double>& values) = 0;
  // Starts summing one contiguous tensor in place and returns at once where the library allows
  // it (MPI_Iallreduce); the default runs AllReduceSum now. `flat` must stay alive and untouched
  // until Wait() returns.
  virtual std::unique_ptr<PendingReduction> StartAllReduceSum(at::Tensor flat);
  // Reduce-scatter. `flat`: contiguous, 1-D, numel a multiple of world_size, seen as world_size
  // equal segments. `shard`: contiguous, 1-D, numel = flat.numel() / world_size, same dtype and
  // device. Afterwards `shard` holds the sum over ranks of segment rank() of their `flat`;
  // `flat` itself may be overwritten.
  virtual void ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) = 0;
  // Starts ReduceScatterSum and returns at once where the library allows it
  // (MPI_Ireduce_scatter_block); the default runs it now. `flat` and `shard` must stay alive and
  // untouched until Wait() returns.
  virtual std::unique_ptr<PendingReduction> StartReduceScatterSum(at::Tensor flat, at::Tensor shard);
  // In-place all-gather over the same segments: afterwards segment r of `flat` on every rank
  // holds what rank r had in its segment r.
  virtual void AllGather(at::Tensor& flat) = 0;
  // Every rank receives root's `value` (its length may differ across ranks beforehand).
  virtual void Broadcast(std::string& value, int root) = 0;
  // Every rank's tensors are overwritten in place with root's (same shapes and dtypes).
  virtual void Broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
};

namespace internal {
class CompletedReduction final : public PendingReduction {
 public:
  void Wait() override {}
  bool Test() override { return true; }
};
}  // namespace internal

inline std::unique_ptr<PendingReduction> Communicator::StartAllReduceSum(at::Tensor flat) {
  std::vector<at::Tensor> tensors = {std::move(flat)};
  AllReduceSum(tensors);
  return std::make_unique<internal::CompletedReduction>();
}

inline std::unique_ptr<PendingReduction> Communicator::StartReduceScatterSum(at::Tensor flat, at::Tensor shard) {
  ReduceScatterSum(flat, shard);
  return std::make_unique<internal::CompletedReduction>();
}

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string Name() const override { return "single-process"; }
  void AllReduceSum(std::vector<at::Tensor>&) override {}
  void AllReduceSum(std::vector<double>&) override {}
  void ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) override { shard.copy_(flat); }
  void AllGather(at::Tensor&) override {}
  void Broadcast(std::string&, int) override {}
  void Broadcast(std::vector<at::Tensor>&, int) override {}
};

}  // namespace dpo
