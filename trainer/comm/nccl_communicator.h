// NcclCommunicator: the Communicator of CUDA ranks. Tensors are summed and broadcast with NCCL
// on the current CUDA stream (so they are ordered after the backward pass that produced them),
// in buckets (gradient_buckets.h); small host values and strings go through the bootstrap
// communicator (MPI, or nothing at world size 1). Built only when LibTorch has CUDA
// (DPO_WITH_NCCL).
#pragma once

#include <cstdint>

#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_buckets.h"

namespace dpo {

class Watchdog;

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap`'s ranks: rank 0 calls ncclGetUniqueId, `bootstrap` broadcasts it,
  // every rank calls ncclCommInitRank on CUDA device `device_index`. `bootstrap` and `watchdog`
  // (may be null) must outlive this object. Throws Error(kInternal) naming the NCCL error.
  NcclCommunicator(Communicator& bootstrap, int device_index, Watchdog* watchdog,
                   int64_t bucket_bytes = kDefaultBucketBytes);
  ~NcclCommunicator() override;  // ncclCommDestroy (ncclCommAbort after a failure)
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return bootstrap_.rank(); }
  int world_size() const override { return bootstrap_.world_size(); }
  int local_rank() const override { return bootstrap_.local_rank(); }
  std::string Name() const override { return "nccl"; }

  // CUDA tensors on this rank's device: float32, float64, float16 or bfloat16. Returns when the
  // result is complete on the device (the stream is synchronised under the watchdog).
  void AllReduceSum(std::vector<at::Tensor>& tensors) override;
  void AllReduceSum(std::vector<double>& values) override { bootstrap_.AllReduceSum(values); }
  // ncclReduceScatter and in-place ncclAllGather on the current stream, synchronised before return.
  void ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) override;
  void AllGather(at::Tensor& flat) override;
  void Broadcast(std::string& value, int root) override { bootstrap_.Broadcast(value, root); }
  void Broadcast(std::vector<at::Tensor>& tensors, int root) override;

 private:
  struct Impl;
  Communicator& bootstrap_;
  Watchdog* watchdog_;
  int64_t bucket_bytes_;
  Impl* impl_;
};

}  // namespace dpo
