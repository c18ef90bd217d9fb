// Causal attention through LibTorch's fused scaled_dot_product_attention (flash / memory-efficient
// kernels on CUDA, a fused CPU kernel otherwise), with grouped-query heads passed through.
#include "core/model/attention.h"

#include <torch/torch.h>

#include <optional>

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
  const bool grouped = q.size(1) != k_grouped.size(1);  // GQA: the kernel maps query heads to kv heads
  const double dropout_p = training ? dropout : 0.0;
  if (offset == 0) {
    return at::scaled_dot_product_attention(q, k_grouped, v_grouped, /*attn_mask=*/{}, dropout_p, /*is_causal=*/true,
                                            /*scale=*/std::nullopt, grouped);
  }
  // is_causal aligns the mask top-left, which is wrong when L > 0: pass it explicitly (true = attend).
  std::optional<at::Tensor> allowed;
  if (t > 1) allowed = torch::ones({t, total}, torch::dtype(torch::kBool).device(q.device())).tril(offset);
  return at::scaled_dot_product_attention(q, k_grouped, v_grouped, allowed, dropout_p, /*is_causal=*/false,
                                          /*scale=*/std::nullopt, grouped);
}

}  // namespace dpo
