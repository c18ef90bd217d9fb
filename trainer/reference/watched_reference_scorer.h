// A ReferenceScorer decorator that puts every Score() under the Watchdog, so a reference fetch
// that never returns ends the job (exit 4) instead of hanging it.
#pragma once

#include <memory>
#include <string>

#include "trainer/comm/watchdog.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

class WatchedReferenceScorer final : public ReferenceScorer {
 public:
  // `watchdog` must outlive this object.
  WatchedReferenceScorer(std::unique_ptr<ReferenceScorer> inner, Watchdog& watchdog)
      : inner_(std::move(inner)), watchdog_(watchdog) {}

  at::Tensor Score(const SequenceBatch& batch) override {
    const Watchdog::Scope watched = watchdog_.Watch("reference fetch of " + std::to_string(batch.input_ids.size(0)) + " sequences");
    return inner_->Score(batch);
  }
  void Prefetch(const SequenceBatch& batch) override { inner_->Prefetch(batch); }
  std::string Fingerprint() const override { return inner_->Fingerprint(); }

 private:
  std::unique_ptr<ReferenceScorer> inner_;
  Watchdog& watchdog_;
};

}  // namespace dpo
