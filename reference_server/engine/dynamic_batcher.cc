// The batcher's queue discipline (FIFO, token budget, oldest-waits-at-most max_wait_ms) and its
// forward: collate with the wire's one collation, score with the core's one log-prob function.
#include "reference_server/engine/dynamic_batcher.h"

#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <unordered_map>
#include <utility>

#include "core/common/error.h"
#include "core/model/causal_lm.h"
#include "proto/wire/score_wire.h"
#include "reference_server/cache/score_cache.h"
#include "reference_server/engine/server_memory.h"

namespace dpo {

struct DynamicBatcher::Pending {
  std::vector<BatchItem> items;
  std::vector<CacheEntry> entries;  // one per item, filled as batches finish
  BatchDone done;
  Clock::time_point enqueued;
  std::size_t next = 0;       // first item not yet taken into a batch (worker, under mutex_)
  std::size_t remaining = 0;  // items not yet computed (worker thread only)
  EngineStatus status;        // the first failure of any of its batches (worker thread only)
};

const BatchItem& DynamicBatcher::Slot::item() const { return request->items[index]; }

std::vector<std::string> BatcherOptions::Validate() const {
  std::vector<std::string> problems;
  auto at_least = [&](const char* key, int64_t value, int64_t minimum) {
    if (value < minimum) {
      problems.push_back(std::string(key) + ": " + std::to_string(value) + ", must be at least " +
                         std::to_string(minimum));
    }
  };
  at_least("max_batch_tokens", max_batch_tokens, 1);
  at_least("max_wait_ms", max_wait_ms, 0);
  at_least("max_queued_requests", max_queued_requests, 1);
  at_least("pad_id", pad_id, 0);
  at_least("log_prob_chunk_tokens", log_probs.chunk_tokens, 1);
  at_least("release_memory_after_idle_ms", release_memory_after_idle_ms, 0);
  at_least("debug_forward_delay_ms", debug_forward_delay_ms, 0);
  return problems;
}

DynamicBatcher::DynamicBatcher(std::shared_ptr<CausalLm> model, ScoreCache* cache, BatcherOptions options)
    : model_(std::move(model)), cache_(cache), options_(options) {
  if (!model_) throw Error(ErrorKind::kInternal, "dynamic batcher: no model");
  const std::vector<std::string> problems = options_.Validate();
  if (!problems.empty()) {
    std::string message = "batcher options:";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw InvalidInput(message);
  }
  worker_ = std::thread([this] { Run(); });
}

DynamicBatcher::~DynamicBatcher() { Shutdown(); }

EngineStatus DynamicBatcher::Submit(std::vector<BatchItem> items, BatchDone done) {
  if (items.empty()) return EngineStatus(EngineCode::kInvalidArgument, "batcher: empty request");
  auto pending = std::make_shared<Pending>();
  pending->entries.resize(items.size());
  pending->remaining = items.size();
  int64_t tokens = 0;
  for (const BatchItem& item : items) tokens += item.sequence->token_ids_size();
  pending->items = std::move(items);
  pending->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return EngineStatus(EngineCode::kUnavailable, "server draining: not accepting new work");
    const auto waiting = static_cast<int64_t>(queue_.size());
    if (waiting >= options_.max_queued_requests) {
      ++stats_.rejected_requests;
      return EngineStatus(EngineCode::kResourceExhausted,
                          "queue: " + std::to_string(waiting) + " requests waiting, max_queued_requests=" +
                              std::to_string(options_.max_queued_requests) + "; retry later");
    }
    pending->enqueued = Clock::now();
    queue_.push_back(std::move(pending));
    queued_tokens_ += tokens;
  }
  wake_.notify_one();
  return EngineStatus();
}

void DynamicBatcher::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

BatcherStats DynamicBatcher::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  BatcherStats stats = stats_;
  stats.queued_requests = queue_.size();
  return stats;
}

void DynamicBatcher::Run() {
  torch::NoGradGuard no_grad;  // thread-local: this thread runs every forward
  const auto max_wait = std::chrono::milliseconds(options_.max_wait_ms);
  const auto release_after = std::chrono::milliseconds(options_.release_memory_after_idle_ms);
  bool released = false;  // the first idle period hands back what loading the model left free
  while (true) {
    std::vector<Slot> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto has_work = [&] { return stopping_ || !queue_.empty(); };
      if (!released && release_after.count() > 0 && !wake_.wait_for(lock, release_after, has_work)) {
        lock.unlock();  // Submit must not wait for the trim
        ReleaseFreeMemory();
        lock.lock();
        ++stats_.memory_releases;
        released = true;
        continue;
      }
      wake_.wait(lock, has_work);
      if (queue_.empty()) return;  // stopping, and everything queued has been computed
      const Clock::time_point deadline = queue_.front()->enqueued + max_wait;
      wake_.wait_until(lock, deadline, [&] { return stopping_ || queued_tokens_ >= options_.max_batch_tokens; });
      batch = TakeBatch();
    }
    RunBatch(batch);
    released = false;
  }
}

std::vector<DynamicBatcher::Slot> DynamicBatcher::TakeBatch() {
  std::vector<Slot> batch;
  int64_t longest = 0;
  while (!queue_.empty()) {
    const std::shared_ptr<Pending>& front = queue_.front();
    const int64_t size = front->items[front->next].sequence->token_ids_size();
    const int64_t padded = static_cast<int64_t>(batch.size() + 1) * std::max(longest, size);
    if (!batch.empty() && padded > options_.max_batch_tokens) break;
    longest = std::max(longest, size);
    batch.push_back(Slot{front, front->next});
    queued_tokens_ -= size;
    if (++front->next == front->items.size()) queue_.pop_front();
  }
  return batch;
}

void DynamicBatcher::RunBatch(const std::vector<Slot>& batch) {
  // Identical sequences (equal keys: clients sending the same batch) share one row of the forward.
  std::vector<std::size_t> rows;            // the slot each forward row computes
  std::vector<std::size_t> row_of(batch.size());  // the forward row answering each slot
  std::unordered_map<CacheKey, std::size_t, CacheKeyHash> row_of_key;
  for (std::size_t slot = 0; slot < batch.size(); ++slot) {
    const auto [found, added] = row_of_key.emplace(batch[slot].item().key, rows.size());
    if (added) rows.push_back(slot);
    row_of[slot] = found->second;
  }
  std::vector<CacheEntry> entries;
  std::vector<std::string> token_log_probs;
  const bool wants_tokens = std::any_of(batch.begin(), batch.end(),
                                        [](const Slot& slot) { return slot.item().token_log_probs != nullptr; });
  EngineStatus failure;
  const std::string what = "forward of a batch of " + std::to_string(rows.size()) + " sequences failed: ";
  if (options_.on_batch) {
    int64_t longest = 0;
    for (const std::size_t slot : rows) longest = std::max<int64_t>(longest, batch[slot].item().sequence->token_ids_size());
    options_.on_batch(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows.size()) * longest);
  }
  try {
    entries = Forward(batch, rows, wants_tokens ? &token_log_probs : nullptr);
  } catch (const c10::Error& e) {  // LibTorch's what() carries a backtrace: keep the message only
    failure = EngineStatus(EngineCode::kInternal, what + e.what_without_backtrace());
  } catch (const std::exception& e) {
    failure = EngineStatus(EngineCode::kInternal, what + e.what());
  }
  if (failure.ok()) {
    WriteCache(batch, rows, entries);
  } else {
    std::cerr << "dpo-reference-server: " << failure.message() << "\n";
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.batches;
    if (failure.ok()) stats_.sequences_computed += rows.size();
  }
  for (std::size_t slot = 0; slot < batch.size(); ++slot) {
    Pending& request = *batch[slot].request;
    if (failure.ok()) {
      request.entries[batch[slot].index] = entries[row_of[slot]];
      if (std::string* out = batch[slot].item().token_log_probs) *out = token_log_probs[row_of[slot]];
    } else if (request.status.ok()) {
      request.status = failure;
    }
    if (--request.remaining == 0) {
      if (!request.status.ok()) std::fill(request.entries.begin(), request.entries.end(), CacheEntry{});
      request.done(request.status, request.entries);
    }
  }
}

std::vector<CacheEntry> DynamicBatcher::Forward(const std::vector<Slot>& batch, const std::vector<std::size_t>& rows,
                                                std::vector<std::string>* token_log_probs) {
  std::vector<const v1::Sequence*> sequences;
  sequences.reserve(rows.size());
  for (const std::size_t slot : rows) sequences.push_back(batch[slot].item().sequence);
  const SequenceBatch collated = CollateWireSequences(sequences, options_.pad_id);  // (N, T)
  if (options_.debug_forward_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.debug_forward_delay_ms));
  }
  const c10::Device device = model_->OutputEmbedding().device();  // where the weights live
  LogProbOptions log_prob_options = options_.log_probs;
  log_prob_options.keep_token_log_probs = token_log_probs != nullptr;
  const SequenceLogProbs scores = ComputeSequenceLogProbs(*model_, collated.input_ids.to(device),
                                                          collated.completion_mask.to(device), log_prob_options);
  const at::Tensor sums = scores.sum_log_probs.to(torch::kCPU, torch::kFloat32).contiguous();  // (N,)
  const at::Tensor counts = scores.token_counts.to(torch::kCPU, torch::kInt64).contiguous();  // (N,)
  const float* sum_data = sums.data_ptr<float>();
  const int64_t* count_data = counts.data_ptr<int64_t>();
  std::vector<CacheEntry> entries(rows.size());
  for (std::size_t row = 0; row < rows.size(); ++row) {
    entries[row].sum_log_prob = sum_data[row];
    entries[row].completion_tokens = static_cast<int32_t>(count_data[row]);
  }
  if (token_log_probs != nullptr) {
    const at::Tensor tokens = scores.token_log_probs.to(torch::kCPU, torch::kFloat32).contiguous();  // (M,)
    token_log_probs->resize(rows.size());
    int64_t offset = 0;
    for (std::size_t row = 0; row < rows.size(); ++row) {
      (*token_log_probs)[row] = PackFloat32(tokens.slice(0, offset, offset + count_data[row]));
      offset += count_data[row];
    }
  }
  return entries;
}

void DynamicBatcher::WriteCache(const std::vector<Slot>& batch, const std::vector<std::size_t>& rows,
                                const std::vector<CacheEntry>& entries) {
  if (cache_ == nullptr) return;
  std::vector<std::pair<CacheKey, CacheEntry>> records;
  records.reserve(rows.size());
  for (std::size_t row = 0; row < rows.size(); ++row) records.emplace_back(batch[rows[row]].item().key, entries[row]);
  try {
    cache_->Insert(records);
  } catch (const Error& e) {  // CacheFullError included: answer anyway, count, say what to raise
    uint64_t failures = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failures = ++stats_.cache_write_failures;
    }
    // Log the first failure and then every 1000th, so a full cache cannot flood the log.
    if (failures == 1 || failures % 1000 == 0) {
      std::cerr << "dpo-reference-server: cache write failure " << failures << ": " << e.what() << "\n";
    }
  }
}

}  // namespace dpo
