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

at::Tensor FlattenBucket(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket) {
  if (bucket.size() == 1 && tensors[bucket.front()].is_contiguous()) return tensors[bucket.front()].view({-1});
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

}  // namespace dpo
