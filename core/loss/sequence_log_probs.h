// Per-sequence completion log-probs: the one implementation used by the trainer (policy and
// local reference), the reference server and reward scoring.
//
// log pi(y|x) = sum over completion positions t of log softmax(logits[t-1])[ids[t]], in float32.
// Only completion positions go through the output projection, a chunk of `chunk_tokens` at a
// time; the (chunk, V) logits are recomputed in backward rather than stored, so memory holds at
// most one chunk of full-vocabulary float32 logits whether or not gradients are needed.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "core/loss/log_prob_options.h"

namespace dpo {

class CausalLm;

struct SequenceLogProbs {
  at::Tensor sum_log_probs;    // (N,) float32; differentiable when grad mode is on
  at::Tensor token_counts;     // (N,) int64: completion tokens per sequence
  at::Tensor sum_mean_logits;  // (N,) float32, no grad: sum over completion tokens of the
                               // vocabulary-mean logit (for TRL's logits/chosen metric)
  at::Tensor token_log_probs;  // (M,) float32, no grad, only with keep_token_log_probs: every
                               // completion token's log-prob, sequence 0's first, each sequence's
                               // in position order (token_counts splits it)
};

// input_ids (N, T) int64 and completion_mask (N, T) bool, as built by CollateSequences:
// mask[n][t] is true when token t of sequence n is a completion token. mask[:, 0] must be
// false (the first token has no prediction). Throws Error(kInvalidInput) on shape mismatch.
SequenceLogProbs ComputeSequenceLogProbs(CausalLm& model, const at::Tensor& input_ids,
                                         const at::Tensor& completion_mask,
                                         const LogProbOptions& options = {});

// The same from precomputed hidden states (N, T, H) and the output embedding (V, H).
SequenceLogProbs SequenceLogProbsFromHidden(const at::Tensor& hidden, const at::Tensor& output_embedding,
                                            const at::Tensor& input_ids, const at::Tensor& completion_mask,
                                            const LogProbOptions& options = {});

}  // namespace dpo
