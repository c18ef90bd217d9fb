// MpiCommunicator: the Communicator of CPU ranks, over MPI_COMM_WORLD. Tensors are summed in
// buckets (see gradient_buckets.h) with in-place MPI_Allreduce; every collective is watched by
// the Watchdog. Requires an MpiRuntime; call only from the thread that created it.
#pragma once

#include <cstdint>

#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_buckets.h"

namespace dpo {

class Watchdog;

class MpiCommunicator final : public Communicator {
 public:
  // `watchdog` (may be null) must outlive the communicator.
  explicit MpiCommunicator(Watchdog* watchdog, int64_t bucket_bytes = kDefaultBucketBytes);

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  int local_rank() const override { return local_rank_; }
  std::string Name() const override { return "mpi"; }

  // CPU tensors of float32, float64, float16 or bfloat16 (the last two are summed in float32).
  void AllReduceSum(std::vector<at::Tensor>& tensors) override;
  void AllReduceSum(std::vector<double>& values) override;
  // MPI_Iallreduce of a contiguous float32/float64 CPU tensor; Wait() is watched.
  std::unique_ptr<PendingReduction> StartAllReduceSum(at::Tensor flat) override;
  // MPI_Reduce_scatter_block and in-place MPI_Allgather of float32/float64 CPU tensors (others
  // go through float32); a segment may hold at most INT_MAX elements.
  void ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) override;
  // MPI_Ireduce_scatter_block for float32/float64 tensors of at most INT_MAX elements a segment.
  std::unique_ptr<PendingReduction> StartReduceScatterSum(at::Tensor flat, at::Tensor shard) override;
  void AllGather(at::Tensor& flat) override;
  void Broadcast(std::string& value, int root) override;
  void Broadcast(std::vector<at::Tensor>& tensors, int root) override;

 private:
  Watchdog* watchdog_;
  int64_t bucket_bytes_;
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
};

}  // namespace dpo
