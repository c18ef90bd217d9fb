// Right-padding collation: one pass to size the batch, one pass to fill ids and mask.
#include "core/data/batch.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "core/common/error.h"

namespace dpo {
namespace {

// One row to lay out: a prompt and a completion, neither owned.
struct RowParts {
  const std::vector<TokenId>* prompt;
  const std::vector<TokenId>* completion;
};

SequenceBatch Collate(const std::vector<RowParts>& rows, TokenId pad_id) {
  if (rows.empty()) throw Error(ErrorKind::kInternal, "collate: empty batch");
  int64_t longest = 0;
  int64_t num_tokens = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].prompt->empty() || rows[i].completion->empty()) {
      throw Error(ErrorKind::kInternal,
                  "collate: row " + std::to_string(i) + " has an empty " +
                      (rows[i].prompt->empty() ? "prompt" : "completion"));
    }
    const auto length = static_cast<int64_t>(rows[i].prompt->size() + rows[i].completion->size());
    longest = std::max(longest, length);
    num_tokens += length;
  }
  const auto num_rows = static_cast<int64_t>(rows.size());
  SequenceBatch batch;
  batch.input_ids = torch::full({num_rows, longest}, pad_id, torch::dtype(torch::kInt64));
  batch.completion_mask = torch::zeros({num_rows, longest}, torch::dtype(torch::kBool));
  batch.num_tokens = num_tokens;
  auto ids = batch.input_ids.accessor<int64_t, 2>();
  auto mask = batch.completion_mask.accessor<bool, 2>();
  for (int64_t i = 0; i < num_rows; ++i) {
    const RowParts& row = rows[static_cast<std::size_t>(i)];
    int64_t t = 0;
    for (const TokenId id : *row.prompt) ids[i][t++] = id;
    for (const TokenId id : *row.completion) {
      mask[i][t] = true;
      ids[i][t++] = id;
    }
  }
  return batch;
}

}  // namespace

SequenceBatch CollateSequences(const std::vector<TokenizedSequence>& sequences, TokenId pad_id) {
  std::vector<RowParts> rows;
  rows.reserve(sequences.size());
  for (const TokenizedSequence& sequence : sequences) {
    rows.push_back({&sequence.prompt_ids, &sequence.completion_ids});
  }
  return Collate(rows, pad_id);
}

SequenceBatch CollatePairs(const std::vector<const TokenizedPair*>& pairs, TokenId pad_id) {
  std::vector<RowParts> rows(pairs.size() * 2);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i] == nullptr) {
      throw Error(ErrorKind::kInternal, "collate: pair " + std::to_string(i) + " is null");
    }
    rows[i] = {&pairs[i]->prompt_ids, &pairs[i]->chosen_ids};
    rows[pairs.size() + i] = {&pairs[i]->prompt_ids, &pairs[i]->rejected_ids};
  }
  return Collate(rows, pad_id);
}

}  // namespace dpo
