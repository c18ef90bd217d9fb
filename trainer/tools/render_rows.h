// `dpo-data render`: what the trainer will see for each row of a preference file, read through
// the trainer's own loader (core/data/preference_reader.h) with the job's tokenizer and data
// options: the ids it keeps, each part decoded back to text, what truncation cut and by which
// limit, and why a row would be dropped or fail the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "job/job_config.h"

namespace dpo {

enum class RenderFormat {
  kJson,  // one JSON object per row
  kText,  // a human view, the prompt / completion boundaries marked
};

struct RenderOptions {
  std::string data;    // empty = the job's data.train
  int64_t rows = -1;   // the first N non-blank rows; -1 = all
  RenderFormat format = RenderFormat::kJson;
};

struct RenderedRows {
  std::vector<std::string> lines;  // the output, one JSON object or text line per element
  int64_t rows = 0, kept = 0, dropped = 0, invalid = 0;
};

// Throws Error(kInvalidInput) when the job's tokenizer or chat template cannot be used, or the
// file cannot be read. Invalid rows are reported, never thrown, whatever data.on_bad_row says
// (each says whether data.on_bad_row would end the run on it).
//
// JSON fields per row: file, line, status (ok, invalid_row, empty_after_truncation,
// chosen_equals_rejected), reason (when not ok), fails_run (an invalid row under
// on_bad_row: error); when the parts were tokenised: prompt_ids, chosen_ids, rejected_ids and
// prompt / chosen / rejected (decoded; kept rows only), chosen_mask_tokens and
// rejected_mask_tokens (the completion positions the loss scores), before_truncation (token
// counts of each part) and truncated (one entry per part that was cut: part, from, to, limit).
RenderedRows RenderRows(const JobConfig& config, const RenderOptions& options);

}  // namespace dpo
