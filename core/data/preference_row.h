// Parsing and validation of one JSONL row of preference data, text form
// {"prompt","chosen","rejected"} (strings, or lists of messages: conversation_row.h) or
// pre-tokenised form {"prompt_ids","chosen_ids","rejected_ids"}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/data/sequence_builder.h"

namespace dpo {

// What became of one row.
//  kOk: `pair` holds the tokenised, truncated pair.
//  kInvalid: `problems` lists every problem of the row, e.g. `field "chosen": missing`,
//    `field "prompt": invalid UTF-8 at byte 5` (offset into the field's decoded value),
//    `field "chosen_ids": id 300 at index 2 is outside the vocabulary [0, 259)`.
//  kEmptyAfterTruncation / kChosenEqualsRejected: `problems` holds the one drop reason.
// Messages carry no file or line: the reader prefixes `path:line: `.
struct RowOutcome {
  BuildStatus status = BuildStatus::kOk;
  std::vector<std::string> problems;
  TokenizedPair pair;
  PartLengths before_truncation;  // kOk and the drop statuses: the parts' lengths before truncation
};

// `line` is one line without its newline; `line_number` becomes pair.source_line. Unknown keys
// are ignored (data sets often carry ids or sources); a row mixing both forms is invalid.
// Never throws on bad data.
RowOutcome ProcessPreferenceRow(std::string_view line, int64_t line_number,
                                const SequenceBuilder& builder);

}  // namespace dpo
