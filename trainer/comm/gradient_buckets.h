// Gradient buckets: tensors grouped, in order, into flat buffers of at most `bucket_bytes`, so a
// collective moves few large messages instead of one small message per parameter. Shared by the
// MPI and NCCL communicators.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace dpo {

// Default bucket size (PyTorch DDP's default as well).
inline constexpr int64_t kDefaultBucketBytes = 25 * 1024 * 1024;

// Indices into the tensor list, one vector per bucket. Consecutive tensors of the same dtype and
// device share a bucket until adding the next would exceed `bucket_bytes`; a tensor larger than
// that gets a bucket of its own. Every index appears exactly once, in increasing order.
// Requires bucket_bytes >= 1.
std::vector<std::vector<size_t>> PlanBuckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

// The tensors of one bucket as one contiguous 1-D tensor. When the bucket's tensors are
// contiguous and lie back to back in one storage (one tensor, or the views made by
// AssignBucketViewGradients), this is a view spanning them (no copy); otherwise a new tensor
// holding the concatenation.
at::Tensor FlattenBucket(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket);
// Copies `flat` back into the bucket's tensors (a no-op when `flat` is a view of the only one).
void UnflattenBucket(const at::Tensor& flat, std::vector<at::Tensor>& tensors, const std::vector<size_t>& bucket);

// Gives every parameter a zero-filled .grad that is a view into one flat buffer per bucket of
// PlanBuckets(parameters, bucket_bytes), so that reducing the gradients copies nothing. Autograd
// accumulates into a defined .grad in place, so the views survive backward; they must be zeroed
// in place (grad.zero_()), never reset to undefined, between steps. Returns the flat buffers.
std::vector<at::Tensor> AssignBucketViewGradients(const std::vector<at::Tensor>& parameters, int64_t bucket_bytes);

}  // namespace dpo
