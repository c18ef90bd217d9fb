// PrecomputedReferenceScorer (reference.precompute=true): scores every training pair once before
// training and answers from that table afterwards, so no reference forward runs during the steps.
// Sequences are keyed by content, SHA-256 of (completion start, token ids), as in the reference
// server's cache; a sequence the table does not hold (evaluation data) goes to the inner scorer.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/data/sequence_builder.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

class PrecomputedReferenceScorer final : public ReferenceScorer {
 public:
  // Scores `pairs` with `inner` in fixed batches of `batch_size` pairs in data order, so the
  // values do not depend on the training order; under bf16 autocast when `bf16_autocast`, the
  // precision the training step scores in online, so both give the same loss. `inner` is borrowed
  // and must outlive this scorer. Throws what `inner` throws.
  PrecomputedReferenceScorer(ReferenceScorer& inner, const std::vector<TokenizedPair>& pairs, int64_t batch_size,
                             TokenId pad_id, bool bf16_autocast);

  // (N, T) -> (N,) float32 on the CPU: table values; when some row is missing, the inner scorer
  // scores the batch and answers those rows.
  at::Tensor Score(const SequenceBatch& batch) override;
  // Passed on only when some row of `batch` is missing from the table.
  void Prefetch(const SequenceBatch& batch) override;
  std::string Fingerprint() const override { return inner_.Fingerprint(); }

  int64_t size() const { return static_cast<int64_t>(table_.size()); }  // distinct sequences held

 private:
  // One key per row of `batch` (the digest bytes of its completion start and token ids).
  static std::vector<std::string> Keys(const SequenceBatch& batch);

  ReferenceScorer& inner_;
  std::unordered_map<std::string, float> table_;  // key -> reference log-prob sum
};

}  // namespace dpo
