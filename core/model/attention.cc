// Causal attention: the fused kernel of LibTorch >= 2.0, or softmax(q k^T / sqrt(d)) v in plain ops
// for 1.13.
#include "core/model/attention.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace dpo {

std::pair<at::Tensor, at::Tensor> AppendToCache(const LayerCache* cache, at::Tensor keys, at::Tensor values) {
  if (cache == nullptr) return {keys, values};
  if (cache->keys->defined()) {
    keys = torch::cat({*cache->keys, keys}, 2);
    values = torch::cat({*cache->values, values}, 2);
  }
  *cache->keys = keys;
  *cache->values = values;
  return {keys, values};
}

at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k_grouped, const at::Tensor& v_grouped,
                           double dropout, bool training) {
  const int64_t t = q.size(2), total = k_grouped.size(2), offset = total - t;
  const int64_t group = q.size(1) / k_grouped.size(1);
  const at::Tensor k = group == 1 ? k_grouped : k_grouped.repeat_interleave(group, 1);
  const at::Tensor v = group == 1 ? v_grouped : v_grouped.repeat_interleave(group, 1);
#if TORCH_VERSION_MAJOR >= 2
  if (offset == 0) return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout, /*is_causal=*/true);
  // is_causal aligns the mask top-left, which is wrong when L > 0: pass it explicitly (true = attend).
  c10::optional<at::Tensor> allowed;
  if (t > 1) allowed = torch::ones({t, total}, torch::dtype(torch::kBool).device(q.device())).tril(offset);
  return at::scaled_dot_product_attention(q, k, v, allowed, dropout, /*is_causal=*/false);
#else
  const int64_t head = q.size(-1);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(head)));
  if (t > 1) {
    const auto future = torch::ones({t, total}, torch::dtype(torch::kBool).device(q.device())).triu(offset + 1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  return torch::matmul(torch::dropout(torch::softmax(scores, -1), dropout, training), v);
#endif
}

}  // namespace dpo
