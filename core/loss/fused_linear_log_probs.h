// Token log-probs through the output projection without storing (M, V) logits: an autograd
// function that recomputes each chunk's logits in backward. Internal to core/loss.
#pragma once

#include <cstdint>
#include <utility>

#include <ATen/core/Tensor.h>

namespace dpo {

// hidden (M, H), weight (V, H), targets (M,) int64 ->
//   first:  (M,) float32 log softmax(hidden W^T)[m, targets[m]], differentiable w.r.t. hidden
//           and weight;
//   second: (M,) float32 mean over the vocabulary of each row's logits (no grad).
std::pair<at::Tensor, at::Tensor> FusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight,
                                                      const at::Tensor& targets, int64_t chunk_tokens);

}  // namespace dpo
