// Chunked log-softmax-gather with recomputation in backward.
//
// Forward, per chunk c of rows:  z = h_c W^T (fp32), lse = logsumexp(z), out = z[target] - lse.
// Backward, per chunk:           recompute z, p = exp(z - lse), dz = g (onehot(target) - p),
//                                dh_c = dz W, dW += dz^T h_c.
#include "core/loss/fused_linear_log_probs.h"

#include <torch/torch.h>

#include <algorithm>

namespace dpo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor ChunkLogits(const at::Tensor& hidden_chunk, const at::Tensor& weight) {
  // The matmul runs in the hidden states' dtype (bf16 under autocast); the softmax in fp32.
  return torch::matmul(hidden_chunk, weight.to(hidden_chunk.scalar_type()).t()).to(torch::kFloat);  // (c, V)
}

class FusedLinearLogProbsFunction : public torch::autograd::Function<FusedLinearLogProbsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, int64_t chunk_tokens) {
    const int64_t rows = hidden.size(0);
    auto options = hidden.options().dtype(torch::kFloat);
    auto log_probs = torch::empty({rows}, options);
    auto log_normalisers = torch::empty({rows}, options);
    auto mean_logits = torch::empty({rows}, options);
    for (int64_t start = 0; start < rows; start += chunk_tokens) {
      const int64_t end = std::min(rows, start + chunk_tokens);
      const auto logits = ChunkLogits(hidden.slice(0, start, end), weight);
      const auto lse = torch::logsumexp(logits, -1);
      const auto target_logits = logits.gather(1, targets.slice(0, start, end).unsqueeze(1)).squeeze(1);
      log_probs.slice(0, start, end).copy_(target_logits - lse);
      log_normalisers.slice(0, start, end).copy_(lse);
      mean_logits.slice(0, start, end).copy_(logits.mean(-1));
    }
    ctx->save_for_backward({hidden, weight, targets, log_normalisers});
    ctx->saved_data["chunk_tokens"] = chunk_tokens;
    ctx->mark_non_differentiable({mean_logits});
    return {log_probs, mean_logits};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& hidden = saved[0];
    const auto& weight = saved[1];
    const auto& targets = saved[2];
    const auto& log_normalisers = saved[3];
    const int64_t chunk_tokens = ctx->saved_data["chunk_tokens"].toInt();
    const auto grad_log_probs = grad_outputs[0].to(torch::kFloat);
    const int64_t rows = hidden.size(0);

    auto grad_hidden = torch::empty_like(hidden);
    auto grad_weight = torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat));
    for (int64_t start = 0; start < rows; start += chunk_tokens) {
      const int64_t end = std::min(rows, start + chunk_tokens);
      const auto hidden_chunk = hidden.slice(0, start, end);
      const auto g = grad_log_probs.slice(0, start, end).unsqueeze(1);  // (c, 1)
      auto grad_logits = torch::exp(ChunkLogits(hidden_chunk, weight) - log_normalisers.slice(0, start, end).unsqueeze(1));
      grad_logits.mul_(-g);
      grad_logits.scatter_add_(1, targets.slice(0, start, end).unsqueeze(1), g);
      const auto grad_in_dtype = grad_logits.to(hidden.scalar_type());
      grad_hidden.slice(0, start, end).copy_(torch::matmul(grad_in_dtype, weight.to(hidden.scalar_type())));
      grad_weight.addmm_(grad_logits.t(), hidden_chunk.to(torch::kFloat));
    }
    return {grad_hidden, grad_weight.to(weight.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::pair<at::Tensor, at::Tensor> FusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight,
                                                      const at::Tensor& targets, int64_t chunk_tokens) {
  const auto outputs = FusedLinearLogProbsFunction::apply(hidden, weight, targets, std::max<int64_t>(1, chunk_tokens));
  return {outputs[0], outputs[1]};
}

}  // namespace dpo
