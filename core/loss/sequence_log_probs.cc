// Gathers completion positions, then scores them through the fused output projection.
#include "core/loss/sequence_log_probs.h"

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/loss/fused_linear_log_probs.h"
#include "core/model/causal_lm.h"

namespace dpo {
namespace {

void CheckBatch(const at::Tensor& input_ids, const at::Tensor& completion_mask) {
  if (input_ids.dim() != 2 || input_ids.scalar_type() != torch::kLong) {
    throw InvalidInput("log-probs: input_ids must be (N, T) int64");
  }
  if (completion_mask.sizes() != input_ids.sizes() || completion_mask.scalar_type() != torch::kBool) {
    throw InvalidInput("log-probs: completion_mask must be (N, T) bool like input_ids");
  }
  if (input_ids.size(1) > 0 && completion_mask.select(1, 0).any().item<bool>()) {
    throw InvalidInput("log-probs: completion_mask[:, 0] must be false (the first token has no prediction)");
  }
}

}  // namespace

SequenceLogProbs SequenceLogProbsFromHidden(const at::Tensor& hidden, const at::Tensor& output_embedding,
                                            const at::Tensor& input_ids, const at::Tensor& completion_mask,
                                            const LogProbOptions& options) {
  CheckBatch(input_ids, completion_mask);
  const int64_t n = input_ids.size(0), t = input_ids.size(1), h = hidden.size(-1);
  auto float_options = hidden.options().dtype(torch::kFloat);
  SequenceLogProbs result;
  result.token_counts = completion_mask.sum(1);
  if (t < 2) {
    result.sum_log_probs = torch::zeros({n}, float_options);
    result.sum_mean_logits = torch::zeros({n}, float_options);
    if (options.keep_token_log_probs) result.token_log_probs = torch::zeros({0}, float_options);
    return result;
  }
  // Position t-1 predicts token t: (N, T-1) predictors and targets, flattened to the M
  // completion positions.
  const auto predicts_completion = completion_mask.slice(1, 1).reshape({-1});
  const auto rows = predicts_completion.nonzero().squeeze(1);                                   // (M,)
  const auto predictors = hidden.slice(1, 0, t - 1).reshape({-1, h}).index_select(0, rows);  // (M, H)
  const auto targets = input_ids.slice(1, 1).reshape({-1}).index_select(0, rows);             // (M,)
  const auto sequence_of_row = torch::div(rows, t - 1, "floor");                             // (M,)

  const auto [token_log_probs, token_mean_logits] =
      FusedLinearLogProbs(predictors, output_embedding, targets, options.chunk_tokens);
  result.sum_log_probs = torch::zeros({n}, float_options).index_add(0, sequence_of_row, token_log_probs);
  result.sum_mean_logits = torch::zeros({n}, float_options).index_add(0, sequence_of_row, token_mean_logits);
  // `rows` ascends over the row-major (N, T-1) grid: tokens come sequence by sequence, in order.
  if (options.keep_token_log_probs) result.token_log_probs = token_log_probs.detach();
  return result;
}

SequenceLogProbs ComputeSequenceLogProbs(CausalLm& model, const at::Tensor& input_ids,
                                         const at::Tensor& completion_mask, const LogProbOptions& options) {
  return SequenceLogProbsFromHidden(model.HiddenStates(input_ids), model.OutputEmbedding(), input_ids,
                                    completion_mask, options);
}

}  // namespace dpo
