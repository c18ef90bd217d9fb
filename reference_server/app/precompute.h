// `dpo-reference-server precompute`: scores a dpo-train job's data sets into the score cache with
// the trainer's own pipeline (job config, tokenizer, truncation, pair collation) and the server's
// own request path (wire request -> ScoreEngine), so a later training run hits the cache for
// every reference log-prob.
#pragma once

#include <cstdint>
#include <iosfwd>

#include "reference_server/app/server_config.h"

namespace dpo {

struct PrecomputeReport {
  int64_t pairs = 0;             // pairs kept by the data pipeline (train + eval)
  int64_t rows_dropped = 0;      // rows the pipeline dropped or skipped (counted there, listed by dpo-data)
  int64_t sequences = 0;         // 2 per pair
  int64_t from_cache = 0;        // already in the cache
  int64_t computed = 0;          // run through a forward now
  uint64_t cache_entries = 0;    // records in the cache afterwards
  double seconds = 0.0;
};

// Loads the job (JobConfig::Load with `options.overrides`), the model in options.server.model_dir
// (tokenizer fallback: the job's tokenizer.type), and data.train then data.eval (when set) with
// the job's data options; scores every pair in micro-batches of training.per_device_batch_size
// through a ScoreEngine over options.server.cache_dir. Writes a progress line to `progress`.
// Throws Error(kInvalidInput) on a bad job, data set, model or cache directory, or when the
// model's tokenizer differs from the job's; Error(kInternal) when a batch fails to score.
PrecomputeReport RunPrecompute(const PrecomputeOptions& options, std::ostream& progress);

}  // namespace dpo
