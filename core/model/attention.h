// Causal self-attention kernels shared by the model families. Private to core/model.
#pragma once

#include <ATen/core/Tensor.h>

namespace dpo {

// One layer's slots in a CausalLm::KvCache: (N, kv_heads, L, head) tensors, undefined while L = 0.
struct LayerCache {
  at::Tensor* keys;
  at::Tensor* values;
};

// Appends the new positions' keys and values, each (N, kv_heads, t, head), to `cache` (when not
// null) and returns the keys and values of every position, (N, kv_heads, L + t, head).
std::pair<at::Tensor, at::Tensor> AppendToCache(const LayerCache* cache, at::Tensor keys, at::Tensor values);

// Causal scaled dot-product attention, scale 1/sqrt(head). q: (N, heads, t, head); k, v:
// (N, kv_heads, L + t, head) with heads a multiple of kv_heads (grouped-query attention: query
// head h reads key/value head h / (heads / kv_heads), as transformers' repeat_kv). The t queries
// sit at positions [L, L + t) and query i sees keys [0, L + i]; L = 0 is the training path,
// L > 0 incremental decoding. Uses the fused kernel (at::scaled_dot_product_attention) where
// the LibTorch version has it, else the same computation in plain ops. Returns (N, heads, t, head).
at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout,
                           bool training);

}  // namespace dpo
