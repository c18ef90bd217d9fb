// Collation of tokenised sequences and pairs into right-padded id tensors with completion masks,
// the input of every log-prob computation (policy and reference alike).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/data/sequence_builder.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// Row i is prompt_i + completion_i followed by pad ids; T is the longest row of the batch.
struct SequenceBatch {
  at::Tensor input_ids;  // (N, T) int64, right-padded with the pad id
  // (N, T) bool: true at t when token t is a completion token, i.e. its log-prob (predicted from
  // position t - 1) counts; false for prompt and padding. Column 0 is always false.
  at::Tensor completion_mask;
  int64_t num_tokens = 0;  // non-padding tokens (prompt + completion) over all rows
};

// (N sequences) -> (N, T). Throws Error(kInternal) when `sequences` is empty or a sequence has
// an empty prompt or completion (TokenizedSequence's invariants). Tensors are on the CPU.
SequenceBatch CollateSequences(const std::vector<TokenizedSequence>& sequences, TokenId pad_id);

// (B pairs) -> (2B, T): rows [0, B) are prompt + chosen, rows [B, 2B) prompt + rejected, pair i
// in rows i and B + i. The pointers must be non-null; same errors as CollateSequences.
SequenceBatch CollatePairs(const std::vector<const TokenizedPair*>& pairs, TokenId pad_id);

}  // namespace dpo
