// Score = validate -> cache lookup -> batcher for the misses -> one response in request order.
#include "reference_server/engine/score_engine.h"

#include <optional>
#include <utility>
#include <vector>

namespace dpo {
namespace {

ScoreLimits ResolveLimits(ScoreLimits limits, const LoadedReferenceModel& model) {
  if (limits.vocab_size == 0) limits.vocab_size = model.vocab_size();
  if (limits.max_sequence_length == 0) limits.max_sequence_length = model.max_sequence_length();
  return limits;
}

void SetScore(v1::SequenceScore* score, const CacheEntry& entry, bool from_cache) {
  score->set_sum_log_prob(entry.sum_log_prob);
  score->set_completion_tokens(entry.completion_tokens);
  score->set_from_cache(from_cache);
}

}  // namespace

ScoreEngine::ScoreEngine(const LoadedReferenceModel& model, ScoreCache* cache, const BatcherOptions& batcher_options,
                         ScoreLimits limits)
    : fingerprint_(model.fingerprint),
      cache_(cache),
      limits_(ResolveLimits(limits, model)),
      batcher_(model.model, cache, batcher_options) {}

ScoreEngine::~ScoreEngine() { Shutdown(); }

void ScoreEngine::Shutdown() { batcher_.Shutdown(); }

void ScoreEngine::Finish(const ScoreDone& done, const EngineStatus& status, int sequences) {
  if (status.ok()) {
    sequences_scored_ += static_cast<uint64_t>(sequences);
  } else {
    ++requests_failed_;
  }
  done(status);
}

void ScoreEngine::Score(const v1::ScoreRequest& request, v1::ScoreResponse* response, ScoreDone done) {
  ++requests_;
  EngineStatus status = ValidateScoreRequest(request, fingerprint_, limits_);
  if (!status.ok()) return Finish(done, status, 0);
  // The cache holds sums only: a request for per-token log-probs is computed afresh (and its
  // sums still refresh the cache).
  const bool want_tokens = request.return_token_log_probs();
  const int count = request.sequences_size();
  std::vector<CacheKey> keys;
  keys.reserve(static_cast<std::size_t>(count));
  for (const v1::Sequence& sequence : request.sequences()) {
    keys.push_back(MakeCacheKey(fingerprint_, sequence.token_ids().data(),
                                static_cast<std::size_t>(sequence.token_ids_size()), sequence.completion_start()));
  }
  std::vector<std::optional<CacheEntry>> cached(keys.size());
  if (cache_ != nullptr && !want_tokens) {
    try {
      cached = cache_->Lookup(keys);
    } catch (const std::exception& e) {
      return Finish(done, EngineStatus(EngineCode::kInternal, std::string("cache lookup: ") + e.what()), 0);
    }
  }
  response->mutable_scores()->Reserve(count);
  std::vector<BatchItem> misses;
  auto miss_rows = std::make_shared<std::vector<int>>();  // response row of each miss
  for (int i = 0; i < count; ++i) {
    v1::SequenceScore* score = response->add_scores();
    const auto row = static_cast<std::size_t>(i);
    if (cached[row]) {
      SetScore(score, *cached[row], /*from_cache=*/true);
    } else {
      misses.push_back(
          BatchItem{&request.sequences(i), keys[row], want_tokens ? score->mutable_token_log_probs() : nullptr});
      miss_rows->push_back(i);
    }
  }
  if (misses.empty()) return Finish(done, EngineStatus(), count);

  auto on_computed = [this, response, miss_rows, done, count](const EngineStatus& computed,
                                                              const std::vector<CacheEntry>& entries) {
    if (!computed.ok()) {
      response->Clear();
      return Finish(done, computed, 0);
    }
    for (std::size_t k = 0; k < entries.size(); ++k) {
      SetScore(response->mutable_scores((*miss_rows)[k]), entries[k], /*from_cache=*/false);
    }
    Finish(done, EngineStatus(), count);
  };
  status = batcher_.Submit(std::move(misses), std::move(on_computed));
  if (!status.ok()) {
    response->Clear();
    Finish(done, status, 0);
  }
}

ScoreEngineStats ScoreEngine::Stats() const {
  ScoreEngineStats stats;
  stats.requests = requests_.load();
  stats.requests_failed = requests_failed_.load();
  stats.sequences_scored = sequences_scored_.load();
  stats.batcher = batcher_.Stats();
  if (cache_ != nullptr) stats.cache = cache_->Stats();
  return stats;
}

}  // namespace dpo
