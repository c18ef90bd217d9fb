// NCCL all-reduce and broadcast of CUDA tensors on the current stream.
#include "trainer/comm/nccl_communicator.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>
#include <torch/torch.h>

#include <cstring>
#include <optional>

#include "core/common/error.h"
#include "trainer/comm/watchdog.h"

namespace dpo {
namespace {

ncclDataType_t NcclType(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    default:
      throw Error(ErrorKind::kInternal, std::string("NcclCommunicator: unsupported dtype ") + c10::toString(type));
  }
}

}  // namespace

struct NcclCommunicator::Impl {
  ncclComm_t comm = nullptr;
  int device_index = 0;
  bool failed = false;

  void Check(ncclResult_t result, const char* call) {
    if (result == ncclSuccess) return;
    failed = true;
    ncclCommAbort(comm);  // leaves no half-finished collective behind
    comm = nullptr;
    throw Error(ErrorKind::kInternal, std::string(call) + " failed: " + ncclGetErrorString(result));
  }
};

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, int device_index, Watchdog* watchdog, int64_t bucket_bytes)
    : bootstrap_(bootstrap), watchdog_(watchdog), bucket_bytes_(bucket_bytes), impl_(new Impl) {
  impl_->device_index = device_index;
  ncclUniqueId id;
  std::string id_bytes(sizeof(id), '\0');
  if (bootstrap_.rank() == 0) {
    if (const ncclResult_t result = ncclGetUniqueId(&id); result != ncclSuccess) {
      delete impl_;
      throw Error(ErrorKind::kInternal, std::string("ncclGetUniqueId failed: ") + ncclGetErrorString(result));
    }
    std::memcpy(id_bytes.data(), &id, sizeof(id));
  }
  bootstrap_.Broadcast(id_bytes, 0);
  std::memcpy(&id, id_bytes.data(), sizeof(id));
  const c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(device_index));
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("ncclCommInitRank"));
  if (const ncclResult_t result = ncclCommInitRank(&impl_->comm, bootstrap_.world_size(), id, bootstrap_.rank());
      result != ncclSuccess) {
    delete impl_;
    throw Error(ErrorKind::kInternal, std::string("ncclCommInitRank failed: ") + ncclGetErrorString(result));
  }
}

NcclCommunicator::~NcclCommunicator() {
  if (impl_->comm != nullptr) ncclCommDestroy(impl_->comm);
  delete impl_;
}

void NcclCommunicator::AllReduceSum(std::vector<at::Tensor>& tensors) {
  for (const auto& tensor : tensors) {
    if (!tensor.defined() || !tensor.is_cuda() || tensor.device().index() != impl_->device_index) {
      throw Error(ErrorKind::kInternal, "NcclCommunicator::AllReduceSum needs defined tensors on cuda:" +
                                            std::to_string(impl_->device_index));
    }
  }
  const c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(impl_->device_index));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(impl_->device_index)).stream();
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("NCCL all-reduce of " + std::to_string(tensors.size()) + " tensors"));
  for (const auto& bucket : PlanBuckets(tensors, bucket_bytes_)) {
    at::Tensor flat = FlattenBucket(tensors, bucket);  // enqueued on the current stream
    impl_->Check(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), static_cast<size_t>(flat.numel()),
                               NcclType(flat.scalar_type()), ncclSum, impl_->comm, stream),
                 "ncclAllReduce");
    UnflattenBucket(flat, tensors, bucket);  // same stream: ordered after the all-reduce
  }
  c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(impl_->device_index)).synchronize();
}

namespace {

void CheckSegments(const at::Tensor& flat, int world_size, int device_index, const char* operation) {
  if (!flat.defined() || !flat.is_cuda() || flat.device().index() != device_index || !flat.is_contiguous() ||
      flat.dim() != 1 || flat.numel() % world_size != 0) {
    throw Error(ErrorKind::kInternal, std::string("NcclCommunicator::") + operation +
                                          " needs a contiguous 1-D tensor on cuda:" + std::to_string(device_index) +
                                          " of a multiple of world_size elements");
  }
}

}  // namespace

void NcclCommunicator::ReduceScatterSum(at::Tensor& flat, at::Tensor& shard) {
  CheckSegments(flat, world_size(), impl_->device_index, "ReduceScatterSum");
  const size_t count = static_cast<size_t>(flat.numel() / world_size());
  if (!shard.is_contiguous() || static_cast<size_t>(shard.numel()) != count || shard.scalar_type() != flat.scalar_type() ||
      shard.device() != flat.device()) {
    throw Error(ErrorKind::kInternal, "NcclCommunicator::ReduceScatterSum: the shard must be contiguous, on flat's device "
                                      "and dtype, with numel / world_size elements");
  }
  const c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(impl_->device_index));
  const auto cuda_stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(impl_->device_index));
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("NCCL reduce-scatter"));
  impl_->Check(ncclReduceScatter(flat.data_ptr(), shard.data_ptr(), count, NcclType(flat.scalar_type()), ncclSum,
                                 impl_->comm, cuda_stream.stream()),
               "ncclReduceScatter");
  cuda_stream.synchronize();
}

void NcclCommunicator::AllGather(at::Tensor& flat) {
  CheckSegments(flat, world_size(), impl_->device_index, "AllGather");
  const int64_t count = flat.numel() / world_size();
  const c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(impl_->device_index));
  const auto cuda_stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(impl_->device_index));
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("NCCL all-gather"));
  // In place: this rank's segment is the send buffer (NCCL's documented in-place form).
  const at::Tensor own = flat.narrow(0, rank() * count, count);
  impl_->Check(ncclAllGather(own.data_ptr(), flat.data_ptr(), static_cast<size_t>(count), NcclType(flat.scalar_type()),
                             impl_->comm, cuda_stream.stream()),
               "ncclAllGather");
  cuda_stream.synchronize();
}

void NcclCommunicator::Broadcast(std::vector<at::Tensor>& tensors, int root) {
  const c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(impl_->device_index));
  const auto cuda_stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(impl_->device_index));
  std::optional<Watchdog::Scope> watched;
  if (watchdog_ != nullptr) watched.emplace(watchdog_->Watch("NCCL broadcast from rank " + std::to_string(root)));
  for (auto& tensor : tensors) {
    if (!tensor.defined() || !tensor.is_cuda()) throw Error(ErrorKind::kInternal, "NcclCommunicator::Broadcast needs CUDA tensors");
    at::Tensor contiguous = tensor.is_contiguous() ? tensor : tensor.contiguous();
    impl_->Check(ncclBroadcast(contiguous.data_ptr(), contiguous.data_ptr(), static_cast<size_t>(contiguous.numel()),
                               NcclType(contiguous.scalar_type()), root, impl_->comm, cuda_stream.stream()),
                 "ncclBroadcast");
    if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
  }
  cuda_stream.synchronize();
}

}  // namespace dpo
