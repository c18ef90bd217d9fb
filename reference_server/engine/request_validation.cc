// ValidateScoreRequest: cheap whole-request checks first, then one pass per sequence.
#include "reference_server/engine/request_validation.h"

namespace dpo {
namespace {

std::string SequenceField(int i, const char* field) {
  return "sequences[" + std::to_string(i) + "]." + field;
}

}  // namespace

EngineStatus ValidateScoreRequest(const v1::ScoreRequest& request, const std::string& fingerprint,
                                  const ScoreLimits& limits) {
  if (request.expected_fingerprint().empty()) {
    return EngineStatus(EngineCode::kInvalidArgument,
                        "expected_fingerprint: empty; send ModelInfo.fingerprint from GetModelInfo (" +
                            fingerprint + ")");
  }
  if (request.expected_fingerprint() != fingerprint) {
    return EngineStatus(EngineCode::kFailedPrecondition,
                        "expected_fingerprint: the client expects model " + request.expected_fingerprint() +
                            " but this server serves model " + fingerprint);
  }
  const int num_sequences = request.sequences_size();
  if (num_sequences == 0) {
    return EngineStatus(EngineCode::kInvalidArgument, "sequences: empty batch");
  }
  int64_t total_tokens = 0;
  for (const v1::Sequence& sequence : request.sequences()) total_tokens += sequence.token_ids_size();
  if (total_tokens > limits.max_request_tokens) {
    return EngineStatus(EngineCode::kResourceExhausted,
                        "sequences: " + std::to_string(total_tokens) +
                            " tokens in total exceed max_request_tokens=" +
                            std::to_string(limits.max_request_tokens) + "; split the batch");
  }
  for (int i = 0; i < num_sequences; ++i) {
    const v1::Sequence& sequence = request.sequences(i);
    const int size = sequence.token_ids_size();
    if (size > limits.max_sequence_length) {
      return EngineStatus(EngineCode::kOutOfRange,
                          SequenceField(i, "token_ids") + ": " + std::to_string(size) +
                              " tokens exceed max_sequence_length=" + std::to_string(limits.max_sequence_length));
    }
    const int32_t start = sequence.completion_start();
    if (start < 1 || start >= size) {
      return EngineStatus(EngineCode::kOutOfRange,
                          SequenceField(i, "completion_start") + ": " + std::to_string(start) + " outside [1, " +
                              std::to_string(size) + ") for a sequence of " + std::to_string(size) +
                              " tokens (the first token has no prediction; the completion needs a token)");
    }
    const int32_t* ids = sequence.token_ids().data();
    for (int j = 0; j < size; ++j) {
      if (ids[j] < 0 || ids[j] >= limits.vocab_size) {
        return EngineStatus(EngineCode::kInvalidArgument,
                            SequenceField(i, "token_ids") + std::string("[") + std::to_string(j) +
                                "]: " + std::to_string(ids[j]) + " outside the vocabulary [0, " +
                                std::to_string(limits.vocab_size) + ")");
      }
    }
  }
  return EngineStatus();
}

}  // namespace dpo
