// The preference data set reader: JSONL rows -> validated, tokenised, truncated pairs, with every
// skipped or dropped row counted and listed (docs/architecture.md, "Conventions": no silent skips).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/data_options.h"
#include "core/data/preference_row.h"
#include "core/data/sequence_builder.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct RejectedRow {
  int64_t line = 0;    // 1-based line in the file
  std::string reason;  // e.g. `field "chosen": missing`; several problems joined by "; "
};

struct PreferenceDataset {
  std::string path;
  std::vector<TokenizedPair> pairs;  // in file order
  std::vector<RejectedRow> rejected;  // every skipped or dropped row, in file order
  // Always holds the keys "invalid_row" (skipped with on_bad_row: skip),
  // "empty_after_truncation" and "chosen_equals_rejected" (always dropped, never errors).
  std::map<std::string, int64_t> dropped_by_reason;
  int64_t rows_read = 0;          // non-blank lines
  int64_t prompt_tokens = 0;      // over kept pairs, after truncation
  int64_t completion_tokens = 0;  // chosen + rejected over kept pairs, after truncation
};

// Reads a JSONL file: one JSON object per line, blank lines ignored (but counted for line
// numbers), CRLF accepted. Each row is either {"prompt","chosen","rejected"} (strings; or lists
// of {"role","content"} messages rendered with options.chat_template, "prompt" optional: see
// conversation_row.h) or {"prompt_ids","chosen_ids","rejected_ids"} (arrays of ids in
// [0, VocabSize())); unknown keys are ignored. Also throws when the chat template cannot be used
// with the tokenizer (ResolveChatFormat). Throws Error(kInvalidInput):
//  - naming the path when the file cannot be read;
//  - with on_bad_row: error, after reading the whole file, when any row is invalid: the message
//    gives the number of problems and rows, then the first max_reported_problems problems, one
//    per line, as `data/train.jsonl:17: field "chosen": missing`.
// An empty result (every row dropped) is not an error here; the sampler refuses it.
//
// `on_row`, when given, sees every non-blank row's outcome as it is read (before a kept pair is
// moved into the dataset): `dpo-data render` reports rows through it, from this same loop.
using RowObserver = std::function<void(const RowOutcome& row, int64_t line)>;
PreferenceDataset LoadPreferenceData(const std::string& path, const Tokenizer& tokenizer,
                                     const DataOptions& options, const RowObserver& on_row = {});

// The same on contents already in memory; `path` is used for messages and dataset.path.
PreferenceDataset ParsePreferenceData(std::string_view contents, const std::string& path,
                                      const Tokenizer& tokenizer, const DataOptions& options,
                                      const RowObserver& on_row = {});

// Writes dataset.rejected as JSONL, one {"file","line","reason"} object per line (an empty file
// when nothing was rejected), atomically. Throws Error(kInternal) on I/O failure.
void WriteRejects(const std::string& path, const PreferenceDataset& dataset);

}  // namespace dpo
