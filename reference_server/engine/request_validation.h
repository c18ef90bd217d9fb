// Server-side validation of a ScoreRequest: a pure function from the request and the server's
// limits to the status it must answer, so every bad-request kind is testable without a server.
#pragma once

#include <cstdint>
#include <string>

#include "dpo/v1/reference_service.pb.h"
#include "reference_server/engine/engine_status.h"

namespace dpo {

struct ScoreLimits {
  int64_t vocab_size = 0;              // ids must lie in [0, vocab_size)
  int64_t max_sequence_length = 0;     // tokens per sequence, prompt + completion
  int64_t max_request_tokens = 1 << 20;  // tokens per request, summed over its sequences
};

// OK, or the first problem found, checked in this order (code: message):
//   INVALID_ARGUMENT    "expected_fingerprint: empty; ..."
//   FAILED_PRECONDITION "expected_fingerprint: the client expects model <a> but this server
//                        serves model <b>"
//   INVALID_ARGUMENT    "sequences: empty batch"
//   RESOURCE_EXHAUSTED  "sequences: <n> tokens in total exceed max_request_tokens=<limit>; ..."
//   then per sequence i, in order:
//   OUT_OF_RANGE        "sequences[i].token_ids: <n> tokens exceed max_sequence_length=<limit>"
//   OUT_OF_RANGE        "sequences[i].completion_start: <v> outside [1, <size>) ..."
//   INVALID_ARGUMENT    "sequences[i].token_ids[j]: <v> outside the vocabulary [0, <vocab>)"
// Cost: one pass over the token ids. Thread-safe (no state).
EngineStatus ValidateScoreRequest(const v1::ScoreRequest& request, const std::string& fingerprint,
                                  const ScoreLimits& limits);

}  // namespace dpo
