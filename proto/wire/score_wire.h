// The one conversion between tensors and dpo.v1 messages, linked by both the trainer's remote
// reference scorer (requests out, scores in) and the reference server (requests in, scores out).
// Shapes: SequenceBatch (N, T) <-> N wire Sequences; (N,) scores <-> N SequenceScores.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/batch.h"
#include "dpo/v1/reference_service.pb.h"

namespace dpo {

// ---- Client side ----------------------------------------------------------------------------

// (N, T) batch -> request with N sequences, in row order, without padding. Row i becomes
// token_ids = input_ids[i, 0:end_i) and completion_start = s_i, where s_i is the first and
// end_i - 1 the last true column of completion_mask[i]: every sequence ends with its completion,
// so the mask (not the pad id, which may also be a real token) says where the row ends.
// Throws Error(kInternal) naming the row when the tensors are not (N, T) int64 / bool of equal
// shape, a mask row has no completion token, marks column 0, or has a gap inside the completion,
// or an id does not fit in int32. Tensors may live on any device (copied to the CPU).
v1::ScoreRequest BuildScoreRequest(const SequenceBatch& batch, const std::string& expected_fingerprint,
                                   bool return_token_log_probs = false);

// What a client takes from a response.
struct WireScores {
  at::Tensor sum_log_probs;  // (N,) float32, bit-exact from the wire
  at::Tensor token_counts;   // (N,) int64, completion tokens per sequence
  int64_t from_cache = 0;    // how many of the N the server answered from its cache
};

// Checks `response` against the `request` it answers, then converts it. Throws
// Error(kReferenceUnavailable) -- the server disagrees with the protocol -- naming the field when
// the number of scores differs from the number of sequences, a completion_tokens differs from
// size - completion_start, or (when token log-probs were asked for) token_log_probs is not
// 4 * completion_tokens bytes.
WireScores ScoresFromResponse(const v1::ScoreRequest& request, const v1::ScoreResponse& response);

// ---- Server side ----------------------------------------------------------------------------

// N sequences (possibly from several requests) -> (N, T) batch for one forward: T is the longest
// sequence, rows right-padded with `pad_id` (any id in the vocabulary: padding follows the
// sequence under causal attention and is masked out), completion_mask true on
// [completion_start, size). num_tokens = total tokens. The sequences must have passed
// ValidateScoreRequest; pointers must be non-null. Throws Error(kInternal) otherwise.
SequenceBatch CollateWireSequences(const std::vector<const v1::Sequence*>& sequences, int64_t pad_id);
SequenceBatch BatchFromRequest(const v1::ScoreRequest& request, int64_t pad_id);

// (N,) float32 sums, (N,) integer counts and N from-cache flags (empty: none from cache) -> a
// response with N scores. Throws Error(kInternal) on a shape, dtype or length mismatch.
v1::ScoreResponse ScoreResponseFromTensors(const at::Tensor& sum_log_probs, const at::Tensor& token_counts,
                                           const std::vector<bool>& from_cache = {});

// ---- Per-token log-probs (SequenceScore.token_log_probs) ------------------------------------

// (K,) float32 -> 4K bytes, little-endian binary32, bit-exact. Throws Error(kInternal) when the
// tensor is not one-dimensional float32.
std::string PackFloat32(const at::Tensor& values);
// 4K bytes -> (K,) float32. Throws Error(kReferenceUnavailable) naming `place` when the size is
// not a multiple of 4.
at::Tensor UnpackFloat32(const std::string& bytes, const std::string& place);

}  // namespace dpo
