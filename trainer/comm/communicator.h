// Communicator: how ranks agree. Gradients and metric sums are SUMMED across ranks: each
// rank's loss is already normalised by the global batch (see LossNormalizer), so the sum is the
// gradient of the global mean. Implementations: SingleProcessCommunicator (world size 1);
// MPI (CPU) and NCCL (GPU) communicators join later behind the same interface.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace dpo {

// Thread safety: every call is collective and made from one thread per rank, in the same order
// on every rank.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string Name() const = 0;

  // In-place sum of each tensor across ranks.
  virtual void AllReduceSum(std::vector<at::Tensor>& tensors) = 0;
  virtual void AllReduceSum(std::vector<double>& values) = 0;
  // Every rank receives root's `value`.
  virtual void Broadcast(std::string& value, int root) = 0;
};

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string Name() const override { return "single-process"; }
  void AllReduceSum(std::vector<at::Tensor>&) override {}
  void AllReduceSum(std::vector<double>&) override {}
  void Broadcast(std::string&, int) override {}
};

}  // namespace dpo
