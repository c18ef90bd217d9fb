// The per-row work of log_softmax(z)[target] over an output projection's logits, forward
// statistics and backward gradient, each one pass over the (c, V) chunk on CUDA (core/cuda/) and
// ATen ops elsewhere. Both compute in float32 from logits in their own dtype. Internal to
// core/loss (fused_linear_log_probs.cc).
#pragma once

#include <ATen/core/Tensor.h>

namespace dpo {

struct RowLogSoftmaxStats {
  at::Tensor log_normalisers;  // (c,) float32: logsumexp_j z[r, j]
  at::Tensor target_logits;    // (c,) float32: z[r, target[r]]
  at::Tensor mean_logits;      // (c,) float32: mean_j z[r, j]
};

// logits (c, V) float32/bfloat16/float16, targets (c,) int64 in [0, V).
RowLogSoftmaxStats ComputeRowLogSoftmaxStats(const at::Tensor& logits, const at::Tensor& targets);

// grad[r] * (onehot(target[r]) - softmax(z[r])): the gradient of grad[r] * log_softmax(z[r])[target[r]]
// with respect to z[r], as (c, V) in logits' dtype. Consumes `logits`: on CUDA the result is
// written over its storage. log_normalisers and grad are (c,) float32.
at::Tensor RowLogSoftmaxGatherBackward(at::Tensor logits, const at::Tensor& targets,
                                       const at::Tensor& log_normalisers, const at::Tensor& grad);

}  // namespace dpo
