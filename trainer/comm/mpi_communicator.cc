// Bucketed in-place MPI_Allreduce and MPI_Bcast of CPU tensors and small values.
#include "trainer/comm/mpi_communicator.h"

#include <mpi.h>
#include <torch/torch.h>

#include <climits>
#include <optional>
#include <cstdlib>
#include <sstream>

#include "core/common/error.h"
#include "trainer/comm/watchdog.h"

namespace dpo {
namespace {

// MPI counts are int: larger messages go in pieces of at most this many elements.
constexpr int64_t kMaxElementsPerCall = INT_MAX / 8;

std::string Megabytes(int64_t bytes) {
  std::ostringstream out;
  out.precision(3);
  out << static_cast<double>(bytes) / 1e6 << " MB";
  return out.str();
}

void Check(int status, const char* call) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, text, &length);
    throw Error(ErrorKind::kInternal, std::string(call) + " failed: " + std::string(text, static_cast<size_t>(length)));
  }
}

// Sums a contiguous float32 / float64 CPU tensor across ranks, in place.
void AllReduceContiguous(at::Tensor& flat) {
  const MPI_Datatype type = flat.scalar_type() == at::kDouble ? MPI_DOUBLE : MPI_FLOAT;
  char* data = static_cast<char*>(flat.data_ptr());
  const int64_t element_size = flat.element_size();
  for (int64_t start = 0; start < flat.numel(); start += kMaxElementsPerCall) {
    const int count = static_cast<int>(std::min(kMaxElementsPerCall, flat.numel() - start));
    Check(MPI_Allreduce(MPI_IN_PLACE, data + start * element_size, count, type, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

void BroadcastBytes(void* data, int64_t bytes, int root) {
  char* base = static_cast<char*>(data);
  for (int64_t start = 0; start < bytes; start += kMaxElementsPerCall) {
    const int count = static_cast<int>(std::min(kMaxElementsPerCall, bytes - start));
    Check(MPI_Bcast(base + start, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

// A started non-blocking MPI collective over `buffers`, which it keeps alive until it completes.
class MpiPendingRequest final : public PendingReduction {
 public:
  MpiPendingRequest(MPI_Request request, std::vector<at::Tensor> buffers, std::string what, Watchdog* watchdog)
      : request_(request), buffers_(std::move(buffers)), what_(std::move(what)), watchdog_(watchdog) {}
  ~MpiPendingRequest() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void Wait() override {
    std::optional<Watchdog::Scope> watched;
    if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch(what_));
    Check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  }
  bool Test() override {
    int done = 0;
    Check(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }

 private:
  MPI_Request request_;
  std::vector<at::Tensor> buffers_;
  std::string what_;
  Watchdog* watchdog_;
};

std::string BucketBytes(const at::Tensor& flat) { return Megabytes(static_cast<int64_t>(flat.numel() * flat.element_size())); }

}  // namespace

MpiCommunicator::MpiCommunicator(Watchdog* watchdog, int64_t bucket_bytes)
    : watchdog_(watchdog), bucket_bytes_(bucket_bytes) {
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  if (const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) local_rank_ = std::atoi(local);
}

void MpiCommunicator::AllReduceSum(std::vector<at::Tensor>& tensors) {
  int64_t bytes = 0;
  for (const auto& tensor : tensors) {
    if (!tensor.defined() || !tensor.device().is_cpu()) {
      throw Error(ErrorKind::kInternal, "MpiCommunicator::AllReduceSum needs defined CPU tensors");
    }
    bytes += static_cast<int64_t>(tensor.numel() * tensor.element_size());
  }
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) {
    watched.emplace(watchdog_->Watch("all-reduce of " + std::to_string(tensors.size()) + " tensors (" + Megabytes(bytes) + ")"));
  }
  for (const auto& bucket : PlanBuckets(tensors, bucket_bytes_)) {
    at::Tensor flat = FlattenBucket(tensors, bucket);
    const bool native = flat.scalar_type() == at::kFloat || flat.scalar_type() == at::kDouble;
    at::Tensor reduced = native ? flat : flat.to(at::kFloat);
    AllReduceContiguous(reduced);
    if (!native) flat.copy_(reduced);
    // A view of the tensors themselves (bucket-view gradients) needs no copy back.
    if (!flat.is_alias_of(tensors[bucket.front()])) UnflattenBucket(flat, tensors, bucket);
  }
}

std::unique_ptr<PendingReduction> MpiCommunicator::StartAllReduceSum(at::Tensor flat) {
  const bool native = flat.scalar_type() == at::kFloat || flat.scalar_type() == at::kDouble;
  if (!flat.device().is_cpu() || !flat.is_contiguous() || !native || flat.numel() > kMaxElementsPerCall) {
    return Communicator::StartAllReduceSum(std::move(flat));  // the blocking path handles these
  }
  const MPI_Datatype type = flat.scalar_type() == at::kDouble ? MPI_DOUBLE : MPI_FLOAT;
  MPI_Request request = MPI_REQUEST_NULL;
  Check(MPI_Iallreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()), type, MPI_SUM, MPI_COMM_WORLD, &request),
        "MPI_Iallreduce");
  std::string what = "all-reduce of a " + BucketBytes(flat) + " gradient bucket";
  return std::make_unique<MpiPendingRequest>(request, std::vector<at::Tensor>{std::move(flat)}, std::move(what), watchdog_);
}

namespace {

// The number of elements per segment of a flat tensor split over the ranks, checked.
int SegmentCount(const at::Tensor& flat, int world_size, const char* operation) {
  if (!flat.defined() || !flat.device().is_cpu() || !flat.is_contiguous() || flat.dim() != 1 ||
      flat.numel() % world_size != 0 || flat.numel() / world_size > INT_MAX) {
    throw Error(ErrorKind::kInternal, std::string("MpiCommunicator::") + operation +
                                          " needs a contiguous 1-D CPU tensor of world_size x at most INT_MAX elements");
  }
  return static_cast<int>(flat.numel() / world_size);
}

bool IsNative(const at::Tensor& tensor) { return tensor.scalar_type() == at::kFloat || tensor.scalar_type() == at::kDouble; }

MPI_Datatype MpiType(const at::Tensor& tensor) { return tensor.scalar_type() == at::kDouble ? MPI_DOUBLE : MPI_FLOAT; }

}  // namespace

void MpiCommunicator::ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) {
  const int count = SegmentCount(flat, world_size_, "ReduceScatterSum");
  if (!shard.is_contiguous() || shard.numel() != count || shard.scalar_type() != flat.scalar_type()) {
    throw Error(ErrorKind::kInternal, "MpiCommunicator::ReduceScatterSum: the shard must be contiguous, of flat's dtype, with " +
                                          std::to_string(count) + " elements");
  }
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) {
    watched.emplace(watchdog_->Watch("reduce-scatter of a " + BucketBytes(flat) + " gradient bucket"));
  }
  at::Tensor send = IsNative(flat) ? flat : flat.to(at::kFloat);
  at::Tensor receive = IsNative(shard) ? shard : torch::empty({count}, send.options());
  Check(MPI_Reduce_scatter_block(send.data_ptr(), receive.data_ptr(), count, MpiType(send), MPI_SUM, MPI_COMM_WORLD),
        "MPI_Reduce_scatter_block");
  if (!receive.is_same(shard)) shard.copy_(receive);
}

std::unique_ptr<PendingReduction> MpiCommunicator::StartReduceScatterSum(at::Tensor flat, at::Tensor shard) {
  const int count = SegmentCount(flat, world_size_, "StartReduceScatterSum");
  if (!IsNative(flat) || !shard.is_contiguous() || shard.numel() != count || shard.scalar_type() != flat.scalar_type()) {
    return Communicator::StartReduceScatterSum(std::move(flat), std::move(shard));  // checked and converted there
  }
  MPI_Request request = MPI_REQUEST_NULL;
  Check(MPI_Ireduce_scatter_block(flat.data_ptr(), shard.data_ptr(), count, MpiType(flat), MPI_SUM, MPI_COMM_WORLD, &request),
        "MPI_Ireduce_scatter_block");
  std::string what = "reduce-scatter of a " + BucketBytes(flat) + " gradient bucket";
  return std::make_unique<MpiPendingRequest>(request, std::vector<at::Tensor>{std::move(flat), std::move(shard)},
                                             std::move(what), watchdog_);
}

void MpiCommunicator::AllGather(at::Tensor& flat) {
  const int count = SegmentCount(flat, world_size_, "AllGather");
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) {
    watched.emplace(watchdog_->Watch("all-gather of a " + BucketBytes(flat) + " parameter bucket"));
  }
  // All-gather only moves bits: a 2-byte dtype goes as 16-bit words.
  const MPI_Datatype type = IsNative(flat) ? MpiType(flat) : flat.element_size() == 2 ? MPI_UINT16_T : MPI_DATATYPE_NULL;
  if (type == MPI_DATATYPE_NULL) {
    throw Error(ErrorKind::kInternal, std::string("MpiCommunicator::AllGather: unsupported dtype ") +
                                          c10::toString(flat.scalar_type()));
  }
  Check(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, flat.data_ptr(), count, type, MPI_COMM_WORLD),
        "MPI_Allgather");
}

void MpiCommunicator::AllReduceSum(std::vector<double>& values) {
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("all-reduce of " + std::to_string(values.size()) + " values"));
  Check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

void MpiCommunicator::Broadcast(std::string& value, int root) {
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("broadcast from rank " + std::to_string(root)));
  int64_t length = static_cast<int64_t>(value.size());
  Check(MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
  value.resize(static_cast<size_t>(length));
  BroadcastBytes(value.data(), length, root);
}

void MpiCommunicator::Broadcast(std::vector<at::Tensor>& tensors, int root) {
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) {
    watched.emplace(watchdog_->Watch("broadcast of " + std::to_string(tensors.size()) + " tensors from rank " +
                                     std::to_string(root)));
  }
  for (auto& tensor : tensors) {
    if (!tensor.defined() || !tensor.device().is_cpu()) {
      throw Error(ErrorKind::kInternal, "MpiCommunicator::Broadcast needs defined CPU tensors");
    }
    at::Tensor contiguous = tensor.is_contiguous() ? tensor : tensor.contiguous();
    BroadcastBytes(contiguous.data_ptr(), static_cast<int64_t>(contiguous.numel() * contiguous.element_size()), root);
    if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
  }
}

}  // namespace dpo
