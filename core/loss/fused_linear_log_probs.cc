// Chunked log-softmax-gather with recomputation in backward.
//
// Forward, per chunk c of rows:  z = h_c W^T, lse = logsumexp(z), out = z[target] - lse.
// Backward, per chunk:           recompute z, p = exp(z - lse), dz = g (onehot(target) - p),
//                                dh_c = dz W, dW += dz^T h_c.
// The row work (lse, target, mean; dz) is core/loss/row_log_softmax.h: one pass over z on CUDA.
// Precision: the three matmuls run in one compute dtype chosen at forward time -- autocast's dtype
// for the hidden states' device when autocast is on there (bf16 in a mixed-precision step), else
// the hidden states' dtype -- and backward reuses it, although autograd runs backward outside
// autocast. So the recomputed z equals the forward's z bit for bit (the saved lse stays valid) and
// the large V x H gradient GEMMs run on the tensor cores. z stays in the compute dtype; softmax,
// lse and dW's accumulation over chunks are float32 (on CUDA inside the dW GEMM itself).
#include "core/loss/fused_linear_log_probs.h"

#include <torch/torch.h>

#include <algorithm>

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "core/loss/row_log_softmax.h"
#include "core/model/mixed_precision.h"

namespace dpo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// (c, H) x (V, H) -> (c, V) logits in the compute dtype. `weight` is already cast.
at::Tensor ChunkLogits(const at::Tensor& hidden_chunk, const at::Tensor& compute_weight) {
  return torch::matmul(hidden_chunk.to(compute_weight.scalar_type()), compute_weight.t());
}

// grad_weight (V, H) float32 += dz^T (V, c) x h (c, H), both in the compute dtype. On CUDA a
// lower-precision product accumulates in float32 inside the GEMM (addmm's out_dtype): no (V, H)
// temporary per chunk.
void AccumulateWeightGradient(at::Tensor& grad_weight, const at::Tensor& grad_logits, const at::Tensor& hidden_chunk) {
  if (grad_logits.scalar_type() == torch::kFloat) {
    grad_weight.addmm_(grad_logits.t(), hidden_chunk);
  } else if (grad_weight.is_cuda()) {
    at::addmm_out(grad_weight, grad_weight, grad_logits.t(), hidden_chunk, torch::kFloat);
  } else {
    grad_weight.add_(torch::matmul(grad_logits.t(), hidden_chunk));
  }
}

class FusedLinearLogProbsFunction : public torch::autograd::Function<FusedLinearLogProbsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, int64_t chunk_tokens) {
    const at::ScalarType compute_dtype =
        AutocastState::Current().ComputeDtype(hidden.device().type()).value_or(hidden.scalar_type());
    // The same ops as backward (which autograd runs outside autocast): autocast off, casts explicit.
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const at::Tensor compute_weight = weight.to(compute_dtype);  // (V, H)
    const int64_t rows = hidden.size(0);
    auto options = hidden.options().dtype(torch::kFloat);
    auto log_probs = torch::empty({rows}, options);
    auto log_normalisers = torch::empty({rows}, options);
    auto mean_logits = torch::empty({rows}, options);
    for (int64_t start = 0; start < rows; start += chunk_tokens) {
      const int64_t end = std::min(rows, start + chunk_tokens);
      const auto stats =
          ComputeRowLogSoftmaxStats(ChunkLogits(hidden.slice(0, start, end), compute_weight), targets.slice(0, start, end));
      log_probs.slice(0, start, end).copy_(stats.target_logits - stats.log_normalisers);
      log_normalisers.slice(0, start, end).copy_(stats.log_normalisers);
      mean_logits.slice(0, start, end).copy_(stats.mean_logits);
    }
    ctx->save_for_backward({hidden, weight, targets, log_normalisers});
    ctx->saved_data["chunk_tokens"] = chunk_tokens;
    ctx->saved_data["compute_dtype"] = static_cast<int64_t>(compute_dtype);
    ctx->mark_non_differentiable({mean_logits});
    return {log_probs, mean_logits};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& hidden = saved[0];   // (M, H)
    const auto& weight = saved[1];   // (V, H)
    const auto& targets = saved[2];  // (M,)
    const auto& log_normalisers = saved[3];  // (M,) float32
    const int64_t chunk_tokens = ctx->saved_data["chunk_tokens"].toInt();
    const auto compute_dtype = static_cast<at::ScalarType>(ctx->saved_data["compute_dtype"].toInt());
    const auto grad_log_probs = grad_outputs[0].to(torch::kFloat);
    const int64_t rows = hidden.size(0);

    const at::Tensor compute_weight = weight.to(compute_dtype);
    auto grad_hidden = torch::empty_like(hidden);
    auto grad_weight = torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat));
    for (int64_t start = 0; start < rows; start += chunk_tokens) {
      const int64_t end = std::min(rows, start + chunk_tokens);
      const auto hidden_chunk = hidden.slice(0, start, end).to(compute_dtype);
      const auto grad_logits =  // (c, V) in the compute dtype
          RowLogSoftmaxGatherBackward(ChunkLogits(hidden_chunk, compute_weight), targets.slice(0, start, end),
                                      log_normalisers.slice(0, start, end), grad_log_probs.slice(0, start, end));
      grad_hidden.slice(0, start, end).copy_(torch::matmul(grad_logits, compute_weight));
      AccumulateWeightGradient(grad_weight, grad_logits, hidden_chunk);
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
