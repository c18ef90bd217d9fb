// Bucket planning and (un)flattening.
#include "trainer/comm/gradient_buckets.h"

#include <torch/torch.h>

#include "core/common/error.h"

namespace dpo {

std::vector<std::vector<size_t>> PlanBuckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  if (bucket_bytes < 1) throw InvalidInput("bucket size must be >= 1 byte, got " + std::to_string(bucket_bytes));
  std::vector<std::vector<size_t>> buckets;
  int64_t filled = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& tensor = tensors[i];
    const int64_t bytes = static_cast<int64_t>(tensor.numel() * tensor.element_size());
    const bool fits = !buckets.empty() && filled + bytes <= bucket_bytes &&
                      tensors[buckets.back().front()].scalar_type() == tensor.scalar_type() &&
                      tensors[buckets.back().front()].device() == tensor.device();
    if (!fits) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(i);
    filled += bytes;
  }
  return buckets;
}

namespace {

// True when the bucket's tensors are contiguous and each starts where the previous one ends.
bool BackToBack(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket) {
  const at::Tensor& first = tensors[bucket.front()];
  const char* expected = static_cast<const char*>(first.data_ptr());
  for (const size_t index : bucket) {
    const at::Tensor& tensor = tensors[index];
    if (!tensor.is_contiguous() || !tensor.storage().is_alias_of(first.storage()) ||
        static_cast<const char*>(tensor.data_ptr()) != expected) {
      return false;
    }
    expected += tensor.numel() * tensor.element_size();
  }
  return true;
}

}  // namespace

at::Tensor FlattenBucket(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket) {
  if (BackToBack(tensors, bucket)) {
    int64_t total = 0;
    for (const size_t index : bucket) total += tensors[index].numel();
    const at::Tensor& first = tensors[bucket.front()];
    return first.as_strided({total}, {1}, first.storage_offset());
  }
  std::vector<at::Tensor> pieces;
  pieces.reserve(bucket.size());
  for (const size_t index : bucket) pieces.push_back(tensors[index].reshape({-1}));
  return torch::cat(pieces);
}

void UnflattenBucket(const at::Tensor& flat, std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket) {
  int64_t offset = 0;
  for (const size_t index : bucket) {
    at::Tensor& tensor = tensors[index];
    const int64_t n = tensor.numel();
    const at::Tensor piece = flat.narrow(0, offset, n);
    if (piece.data_ptr() != tensor.data_ptr()) tensor.copy_(piece.view_as(tensor));
    offset += n;
  }
}

std::vector<at::Tensor> AssignBucketViewGradients(const std::vector<at::Tensor>& parameters, int64_t bucket_bytes) {
  std::vector<at::Tensor> buffers;
  for (const auto& bucket : PlanBuckets(parameters, bucket_bytes)) {
    int64_t total = 0;
    for (const size_t index : bucket) total += parameters[index].numel();
    at::Tensor buffer = torch::zeros({total}, parameters[bucket.front()].options().requires_grad(false));
    int64_t offset = 0;
    for (const size_t index : bucket) {
      at::Tensor parameter = parameters[index];
      parameter.mutable_grad() = buffer.narrow(0, offset, parameter.numel()).view(parameter.sizes());
      offset += parameter.numel();
    }
    buffers.push_back(std::move(buffer));
  }
  return buffers;
}

}  // namespace dpo
