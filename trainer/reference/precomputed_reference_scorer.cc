// The precomputed reference table: fixed-batch precompute, content keys, table lookups.
#include "trainer/reference/precomputed_reference_scorer.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/common/sha256.h"
#include "core/data/batch.h"
#include "core/model/mixed_precision.h"

namespace dpo {

PrecomputedReferenceScorer::PrecomputedReferenceScorer(ReferenceScorer& inner, const std::vector<TokenizedPair>& pairs,
                                                       int64_t batch_size, TokenId pad_id, bool bf16_autocast)
    : inner_(inner) {
  const int64_t n = static_cast<int64_t>(pairs.size());
  for (int64_t start = 0; start < n; start += batch_size) {
    std::vector<const TokenizedPair*> selected;
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i) selected.push_back(&pairs[static_cast<size_t>(i)]);
    const SequenceBatch batch = CollatePairs(selected, pad_id);  // (2b, T): chosen rows, then rejected
    const BfloatAutocastGuard autocast(bf16_autocast);
    const at::Tensor scores = inner_.Score(batch).to(torch::kCPU, torch::kFloat).contiguous();
    const std::vector<std::string> keys = Keys(batch);
    const float* values = scores.data_ptr<float>();
    for (size_t row = 0; row < keys.size(); ++row) table_[keys[row]] = values[row];
  }
}

std::vector<std::string> PrecomputedReferenceScorer::Keys(const SequenceBatch& batch) {
  const at::Tensor ids = batch.input_ids.to(torch::kCPU).contiguous();        // (N, T) int64
  const at::Tensor mask = batch.completion_mask.to(torch::kCPU).contiguous();  // (N, T) bool
  const int64_t rows = ids.size(0), width = ids.size(1);
  const auto id = ids.accessor<int64_t, 2>();
  const auto completion = mask.accessor<bool, 2>();
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(rows));
  Sha256 hasher;
  for (int64_t row = 0; row < rows; ++row) {
    // The completion is a non-empty run that ends the sequence; padding follows it.
    int64_t first = 0, last = 0;
    for (int64_t t = 0; t < width; ++t) {
      if (!completion[row][t]) continue;
      if (first == 0) first = t;
      last = t;
    }
    hasher.Update(&first, sizeof(first));
    for (int64_t t = 0; t <= last; ++t) {
      const int64_t token = id[row][t];
      hasher.Update(&token, sizeof(token));
    }
    const Sha256::Digest digest = hasher.Finish();
    keys.emplace_back(reinterpret_cast<const char*>(digest.data()), digest.size());
  }
  return keys;
}

at::Tensor PrecomputedReferenceScorer::Score(const SequenceBatch& batch) {
  const std::vector<std::string> keys = Keys(batch);
  std::vector<float> values(keys.size());
  std::vector<size_t> missing;
  for (size_t row = 0; row < keys.size(); ++row) {
    const auto found = table_.find(keys[row]);
    if (found == table_.end()) {
      missing.push_back(row);
    } else {
      values[row] = found->second;
    }
  }
  if (!missing.empty()) {
    const at::Tensor scored = inner_.Score(batch).to(torch::kCPU, torch::kFloat).contiguous();
    for (const size_t row : missing) values[row] = scored.data_ptr<float>()[row];
  }
  return torch::tensor(values, torch::kFloat);
}

void PrecomputedReferenceScorer::Prefetch(const SequenceBatch& batch) {
  const std::vector<std::string> keys = Keys(batch);
  const bool all_held = std::all_of(keys.begin(), keys.end(), [this](const std::string& key) { return table_.count(key) > 0; });
  if (!all_held) inner_.Prefetch(batch);
}

}  // namespace dpo
