// How per-sequence log-probs are computed (sequence_log_probs.h). A header of its own, without
// LibTorch, so that the job file (job/) and the reference server's options embed it and its
// defaults are written once, here.
#pragma once

#include <cstdint>

namespace dpo {

struct LogProbOptions {
  // Completion tokens per output-projection chunk: the (chunk, V) float32 logits of one chunk are
  // the most memory the log-probs hold at once. Default: 512.
  int64_t chunk_tokens = 512;
  // Also return each completion token's log-prob (the reference server's per-token answers).
  // Default: false.
  bool keep_token_log_probs = false;
};

}  // namespace dpo
