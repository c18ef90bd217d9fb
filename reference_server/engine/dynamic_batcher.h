// DynamicBatcher: the reference server's one compute thread. Concurrent requests' cache misses
// wait in a bounded queue; the worker packs them into batches (up to a token budget or a wait
// limit), runs one forward per batch, writes the results to the cache, and completes requests;
// when idle, it hands the forwards' free memory back to the system.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/common/clock.h"
#include "core/loss/sequence_log_probs.h"
#include "dpo/v1/reference_service.pb.h"
#include "reference_server/cache/cache_record.h"
#include "reference_server/engine/engine_status.h"

namespace dpo {

class CausalLm;
class ScoreCache;

struct BatcherOptions {
  // Budget of one forward in PADDED tokens (rows x longest row of the batch): what the forward
  // costs in time and memory. A single sequence longer than the budget runs alone. Default: 8192.
  int64_t max_batch_tokens = 8192;
  // Longest the oldest queued sequence waits for others to fill its batch; 0 = never wait.
  // Default: 5.
  int64_t max_wait_ms = 5;
  // Requests waiting for a batch (not yet fully taken into a forward); one more is refused with
  // RESOURCE_EXHAUSTED, so memory stays bounded by this many requests. Default: 128.
  int64_t max_queued_requests = 128;
  // Any id in the vocabulary (padding is masked out and follows each row). Default: 0; the
  // server sets the model's.
  int64_t pad_id = 0;
  LogProbOptions log_probs;  // log_prob_chunk_tokens
  // After this long with nothing queued, the worker hands free heap pages back to the system
  // (ReleaseFreeMemory, server_memory.h), else a burst's large forwards keep their peak in the
  // RSS. Once per idle period (the first one after start included); never while requests keep
  // arriving, and one arriving during it waits for it (~1-6 ms). 0 = never. Default: 1000.
  int64_t release_memory_after_idle_ms = 1000;
  // Testing and load drills only: sleep this long inside every forward (a slow model).
  // Default: 0.
  int64_t debug_forward_delay_ms = 0;
  // Called on the worker thread after every forward with its rows and padded tokens (rows x
  // longest row), e.g. for metrics. Optional; must be cheap and must not throw.
  std::function<void(int64_t rows, int64_t padded_tokens)> on_batch;

  // Every problem at once, e.g. "max_batch_tokens: 0, must be at least 1"; empty when valid.
  std::vector<std::string> Validate() const;
};

// One sequence to compute. `sequence` is borrowed: it must stay valid until `done` runs.
struct BatchItem {
  const v1::Sequence* sequence = nullptr;  // validated (ValidateScoreRequest) before Submit
  CacheKey key{};                          // MakeCacheKey of the sequence; the cache record's key
  // When set, receives the sequence's per-token completion log-probs (PackFloat32) before
  // `done` runs. Borrowed like `sequence`.
  std::string* token_log_probs = nullptr;
};

// Called once per accepted request, on the worker thread, after its last item was computed:
// OK with one entry per item in Submit's order, or INTERNAL naming the failure (then `entries`
// holds zeros and must not be used). Must not block (it runs between forwards).
using BatchDone = std::function<void(const EngineStatus& status, const std::vector<CacheEntry>& entries)>;

struct BatcherStats {
  uint64_t batches = 0;               // forwards run
  uint64_t sequences_computed = 0;    // rows run through a forward (equal keys in a batch share one)
  uint64_t queued_requests = 0;       // waiting now
  uint64_t rejected_requests = 0;     // RESOURCE_EXHAUSTED answers (queue full)
  uint64_t cache_write_failures = 0;  // batches whose results could not be written to the cache
  uint64_t memory_releases = 0;       // idle periods in which free heap pages were handed back
};

// Thread safety: Submit, Stats and Shutdown may be called from any threads concurrently. The
// model is used only by the worker thread (under NoGradGuard), so nothing else may run a forward
// on it while the batcher lives. `cache` may be null (no persistence); otherwise it must outlive
// the batcher, and each batch's results are inserted in one transaction before its requests
// complete (a cache write failure is counted and logged; the computed values are still answered).
class DynamicBatcher {
 public:
  // Starts the worker thread. Throws Error(kInvalidInput) listing every invalid option.
  DynamicBatcher(std::shared_ptr<CausalLm> model, ScoreCache* cache, BatcherOptions options);
  ~DynamicBatcher();  // Shutdown()
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues `items` (non-empty) as one request. OK: `done` will be called exactly once.
  // RESOURCE_EXHAUSTED when max_queued_requests are waiting, UNAVAILABLE once Shutdown began,
  // INVALID_ARGUMENT for an empty item list: `done` is never called then.
  EngineStatus Submit(std::vector<BatchItem> items, BatchDone done);

  // Stops accepting, computes everything already queued (without waiting for batches to fill),
  // completes every request, and joins the worker. Idempotent; blocks until drained.
  void Shutdown();

  BatcherStats Stats() const;

 private:
  struct Pending;
  struct Slot {  // one row of a batch: item `index` of request `request`
    std::shared_ptr<Pending> request;
    std::size_t index = 0;
    const BatchItem& item() const;
  };

  void Run();
  // Under mutex_: moves queued items into a batch within the token budget (at least one).
  std::vector<Slot> TakeBatch();
  void RunBatch(const std::vector<Slot>& batch);
  // The forward over the slots `rows` (distinct keys): one entry per row and, when
  // `token_log_probs` is non-null, each row's packed per-token log-probs. Throws on any failure.
  std::vector<CacheEntry> Forward(const std::vector<Slot>& batch, const std::vector<std::size_t>& rows,
                                  std::vector<std::string>* token_log_probs);
  void WriteCache(const std::vector<Slot>& batch, const std::vector<std::size_t>& rows,
                  const std::vector<CacheEntry>& entries);

  std::shared_ptr<CausalLm> model_;
  ScoreCache* cache_;
  BatcherOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;  // requests with items not yet taken
  int64_t queued_tokens_ = 0;                   // tokens of the items not yet taken
  bool stopping_ = false;
  BatcherStats stats_;  // guarded by mutex_ (queued_requests is computed in Stats)

  std::thread worker_;  // last member: starts after everything above is initialised
};

}  // namespace dpo
