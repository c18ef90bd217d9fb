// A ReferenceScorer decorator that times every Score() (how long training waited for reference
// log-probs) and, with a Watchdog, puts it under the watchdog so that a reference fetch that
// never returns ends the job (exit 4) instead of hanging it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "trainer/comm/watchdog.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

class ObservedReferenceScorer final : public ReferenceScorer {
 public:
  // `watchdog` may be null; it must outlive this object.
  ObservedReferenceScorer(std::unique_ptr<ReferenceScorer> inner, Watchdog* watchdog)
      : inner_(std::move(inner)), watchdog_(watchdog) {}

  at::Tensor Score(const SequenceBatch& batch) override {
    std::optional<Watchdog::Scope> watched;
    if (watchdog_ != nullptr) {
      watched.emplace(watchdog_->Watch("reference fetch of " + std::to_string(batch.input_ids.size(0)) + " sequences"));
    }
    const auto started = std::chrono::steady_clock::now();
    at::Tensor scores = inner_->Score(batch);
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return scores;
  }
  void Prefetch(const SequenceBatch& batch) override { inner_->Prefetch(batch); }
  std::string Fingerprint() const override { return inner_->Fingerprint(); }

  // Seconds spent in Score() since the last call.
  double TakeWaitSeconds() { return std::exchange(wait_seconds_, 0.0); }

 private:
  std::unique_ptr<ReferenceScorer> inner_;
  Watchdog* watchdog_;
  double wait_seconds_ = 0;
};

}  // namespace dpo
