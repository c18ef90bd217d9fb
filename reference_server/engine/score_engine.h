// ScoreEngine: what a Score call does, without the transport: validate the request, answer the
// sequences the cache holds at once, send the misses through the dynamic batcher, assemble the
// response. The gRPC service and the precompute mode both call it, so both build identical keys.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dpo/v1/reference_service.pb.h"
#include "reference_server/cache/score_cache.h"
#include "reference_server/engine/dynamic_batcher.h"
#include "reference_server/engine/engine_status.h"
#include "reference_server/engine/reference_model.h"
#include "reference_server/engine/request_validation.h"

namespace dpo {

struct ScoreEngineStats {
  uint64_t requests = 0;          // Score calls received
  uint64_t requests_failed = 0;   // answered with a non-OK status
  uint64_t sequences_scored = 0;  // sequences answered OK (computed or from the cache)
  BatcherStats batcher;
  ScoreCacheStats cache;
};

// Called exactly once per Score call with the final status; `response` is complete when OK.
using ScoreDone = std::function<void(const EngineStatus& status)>;

// Thread safety: Score and Stats may be called from any threads concurrently (gRPC callback
// threads). The model, cache and options are fixed at construction; `model` and `cache` must
// outlive the engine.
class ScoreEngine {
 public:
  // `limits.vocab_size` and `limits.max_sequence_length` of 0 take the model's values. Starts the
  // batcher's worker; throws Error(kInvalidInput) listing invalid batcher options.
  ScoreEngine(const LoadedReferenceModel& model, ScoreCache* cache, const BatcherOptions& batcher_options,
              ScoreLimits limits);
  ~ScoreEngine();  // Shutdown()

  // Answers `request` into `*response` (which must be empty). `done` runs either before Score
  // returns (validation errors, all sequences cached) or later on the batcher's thread; both
  // `request` and `response` must stay valid until it has run. Status codes: those of
  // ValidateScoreRequest (request_validation.h), RESOURCE_EXHAUSTED when the batcher's queue is full,
  // UNAVAILABLE once Shutdown began, INTERNAL naming the failure of a cache read or a forward.
  void Score(const v1::ScoreRequest& request, v1::ScoreResponse* response, ScoreDone done);

  // Refuses new work (UNAVAILABLE), finishes everything already accepted, joins the batcher.
  // Idempotent. The cache is not synced here (its owner does that).
  void Shutdown();

  ScoreEngineStats Stats() const;
  const ScoreLimits& limits() const { return limits_; }
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  void Finish(const ScoreDone& done, const EngineStatus& status, int sequences);

  std::string fingerprint_;
  ScoreCache* cache_;
  ScoreLimits limits_;
  DynamicBatcher batcher_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> requests_failed_{0};
  std::atomic<uint64_t> sequences_scored_{0};
};

}  // namespace dpo
