// Tests of DynamicBatcher: batched values equal the direct per-sequence computation, batches form
// (forwards counted), the token budget splits batches, a full queue refuses, shutdown drains,
// results reach the cache, a failed forward fails only its own requests, and an idle worker hands
// free memory back once per idle period.
#include "reference_server/engine/dynamic_batcher.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include "reference_server/cache/score_cache.h"
#include "tests/unit/reference_server/engine/engine_test_util.h"

namespace dpo {
namespace {

using testing::DirectScore;
using testing::RandomSequences;
using testing::TinyReference;

struct Outcome {
  EngineStatus status;
  std::vector<CacheEntry> entries;
};

// Submits `sequences` as one request; the future resolves when `done` runs.
std::future<Outcome> SubmitAll(DynamicBatcher& batcher, const std::vector<v1::Sequence>& sequences,
                               EngineStatus* submitted = nullptr) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> future = promise->get_future();
  std::vector<BatchItem> items;
  for (const v1::Sequence& sequence : sequences) {
    items.push_back(BatchItem{&sequence, MakeCacheKey("fp", sequence.token_ids().data(),
                                                      static_cast<std::size_t>(sequence.token_ids_size()),
                                                      sequence.completion_start())});
  }
  const EngineStatus status = batcher.Submit(std::move(items), [promise](const EngineStatus& s, const std::vector<CacheEntry>& e) {
    promise->set_value(Outcome{s, e});
  });
  if (submitted != nullptr) *submitted = status;
  if (!status.ok()) promise->set_value(Outcome{status, {}});
  return future;
}

// Waits (up to 10 s) until `predicate` holds.
template <typename Predicate>
bool Eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

BatcherOptions Options(int64_t max_batch_tokens, int64_t max_wait_ms) {
  BatcherOptions options;
  options.max_batch_tokens = max_batch_tokens;
  options.max_wait_ms = max_wait_ms;
  options.pad_id = 258;
  return options;
}

TEST(DynamicBatcherTest, ConcurrentRequestsMatchDirectComputation) {
  const LoadedReferenceModel reference = TinyReference();
  // Direct values first: the batcher's worker owns the model once it runs.
  std::vector<std::vector<v1::Sequence>> requests;
  std::vector<std::vector<float>> expected;
  for (int r = 0; r < 8; ++r) {
    requests.push_back(RandomSequences(1 + r % 3, 40, 100 + static_cast<uint32_t>(r)));
    expected.emplace_back();
    for (const v1::Sequence& sequence : requests.back()) expected.back().push_back(DirectScore(*reference.model, sequence));
  }
  DynamicBatcher batcher(reference.model, nullptr, Options(/*max_batch_tokens=*/256, /*max_wait_ms=*/20));
  std::vector<std::future<Outcome>> outcomes(requests.size());
  std::vector<std::thread> clients;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    clients.emplace_back([&, r] { outcomes[r] = SubmitAll(batcher, requests[r]); });
  }
  for (std::thread& client : clients) client.join();
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const Outcome outcome = outcomes[r].get();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
    ASSERT_EQ(outcome.entries.size(), requests[r].size());
    for (std::size_t i = 0; i < requests[r].size(); ++i) {
      const v1::Sequence& sequence = requests[r][i];
      EXPECT_NEAR(outcome.entries[i].sum_log_prob, expected[r][i], 1e-6 * std::max(1.0F, std::fabs(expected[r][i])))
          << "request " << r << " sequence " << i;
      EXPECT_EQ(outcome.entries[i].completion_tokens, sequence.token_ids_size() - sequence.completion_start());
    }
  }
  const BatcherStats stats = batcher.Stats();
  EXPECT_EQ(stats.sequences_computed, 15U);  // 8 requests of 1, 2, 3, 1, 2, 3, 1, 2 sequences
  EXPECT_LT(stats.batches, 15U);             // at least two sequences shared a forward
}

TEST(DynamicBatcherTest, RequestsArrivingTogetherShareOneForward) {
  const LoadedReferenceModel reference = TinyReference();
  std::vector<std::vector<v1::Sequence>> requests;
  for (int r = 0; r < 8; ++r) {
    requests.emplace_back(1);
    for (int t = 0; t < 10; ++t) requests.back()[0].add_token_ids(r * 10 + t);
    requests.back()[0].set_completion_start(4);
  }
  // 8 x 10 tokens fill the budget exactly: the batch runs when the last arrives, not at 10 s.
  DynamicBatcher batcher(reference.model, nullptr, Options(/*max_batch_tokens=*/80, /*max_wait_ms=*/10000));
  std::vector<std::future<Outcome>> outcomes;
  for (const auto& request : requests) outcomes.push_back(SubmitAll(batcher, request));
  for (auto& outcome : outcomes) EXPECT_TRUE(outcome.get().status.ok());
  EXPECT_EQ(batcher.Stats().batches, 1U);
  EXPECT_EQ(batcher.Stats().sequences_computed, 8U);
}

TEST(DynamicBatcherTest, PaddedTokenBudgetSplitsOneLargeRequest) {
  const LoadedReferenceModel reference = TinyReference();
  std::vector<v1::Sequence> sequences(8);
  std::vector<float> expected;
  for (std::size_t k = 0; k < sequences.size(); ++k) {
    for (int t = 0; t < 10; ++t) sequences[k].add_token_ids(static_cast<int>(k) * 10 + t + 1);
    sequences[k].set_completion_start(5);
    expected.push_back(DirectScore(*reference.model, sequences[k]));
  }
  DynamicBatcher batcher(reference.model, nullptr, Options(/*max_batch_tokens=*/40, /*max_wait_ms=*/0));
  const Outcome outcome = SubmitAll(batcher, sequences).get();
  ASSERT_TRUE(outcome.status.ok());
  for (std::size_t k = 0; k < sequences.size(); ++k) {
    EXPECT_NEAR(outcome.entries[k].sum_log_prob, expected[k], 1e-6 * std::fabs(expected[k])) << k;
  }
  EXPECT_EQ(batcher.Stats().batches, 2U);  // 4 rows x 10 tokens per forward
  EXPECT_EQ(batcher.Stats().sequences_computed, 8U);
}

TEST(DynamicBatcherTest, IdenticalSequencesInABatchShareOneRow) {
  const LoadedReferenceModel reference = TinyReference();
  const std::vector<v1::Sequence> same = RandomSequences(1, 10, 17);
  const std::vector<v1::Sequence> other = RandomSequences(1, 10, 18);
  const float expected = DirectScore(*reference.model, same[0]);
  // Six clients send the same sequence, one another: 7 x <= 10 tokens fit one forward.
  DynamicBatcher batcher(reference.model, nullptr, Options(/*max_batch_tokens=*/70, /*max_wait_ms=*/10000));
  std::vector<std::future<Outcome>> outcomes;
  for (int c = 0; c < 6; ++c) outcomes.push_back(SubmitAll(batcher, same));
  std::future<Outcome> different = SubmitAll(batcher, other);
  batcher.Shutdown();  // runs the batch now
  for (auto& future : outcomes) {
    const Outcome outcome = future.get();
    ASSERT_TRUE(outcome.status.ok());
    EXPECT_NEAR(outcome.entries[0].sum_log_prob, expected, 1e-6 * std::fabs(expected));
  }
  EXPECT_NEAR(different.get().entries[0].sum_log_prob, DirectScore(*reference.model, other[0]), 1e-4);
  EXPECT_EQ(batcher.Stats().batches, 1U);
  EXPECT_EQ(batcher.Stats().sequences_computed, 2U);
}

TEST(DynamicBatcherTest, FullQueueAnswersResourceExhaustedAndRecovers) {
  const LoadedReferenceModel reference = TinyReference();
  const std::vector<v1::Sequence> sequences = RandomSequences(1, 12, 7);
  BatcherOptions options = Options(/*max_batch_tokens=*/12, /*max_wait_ms=*/0);
  options.max_queued_requests = 2;
  options.debug_forward_delay_ms = 300;
  DynamicBatcher batcher(reference.model, nullptr, options);
  std::future<Outcome> running = SubmitAll(batcher, sequences);
  ASSERT_TRUE(Eventually([&] { return batcher.Stats().queued_requests == 0; }));  // taken into a forward
  std::future<Outcome> second = SubmitAll(batcher, sequences);
  std::future<Outcome> third = SubmitAll(batcher, sequences);
  EngineStatus refused;
  std::future<Outcome> fourth = SubmitAll(batcher, sequences, &refused);
  EXPECT_EQ(refused.code(), EngineCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("max_queued_requests=2"), std::string::npos) << refused.message();
  EXPECT_EQ(batcher.Stats().queued_requests, 2U);
  EXPECT_EQ(batcher.Stats().rejected_requests, 1U);
  EXPECT_TRUE(running.get().status.ok());
  EXPECT_TRUE(second.get().status.ok());
  EXPECT_TRUE(third.get().status.ok());
  EXPECT_TRUE(SubmitAll(batcher, sequences).get().status.ok());  // room again
}

TEST(DynamicBatcherTest, ShutdownCompletesEveryAcceptedRequestThenRefuses) {
  const LoadedReferenceModel reference = TinyReference();
  const std::vector<v1::Sequence> sequences = RandomSequences(3, 20, 9);
  BatcherOptions options = Options(/*max_batch_tokens=*/20, /*max_wait_ms=*/10000);
  options.debug_forward_delay_ms = 50;
  DynamicBatcher batcher(reference.model, nullptr, options);
  std::vector<std::future<Outcome>> outcomes;
  for (int r = 0; r < 5; ++r) outcomes.push_back(SubmitAll(batcher, sequences));
  batcher.Shutdown();  // does not wait out max_wait_ms: drains at once
  for (auto& outcome : outcomes) {
    ASSERT_EQ(outcome.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_TRUE(outcome.get().status.ok());
  }
  EXPECT_EQ(batcher.Stats().sequences_computed, 15U);
  EngineStatus refused;
  SubmitAll(batcher, sequences, &refused);
  EXPECT_EQ(refused.code(), EngineCode::kUnavailable);
}

TEST(DynamicBatcherTest, ResultsAreWrittenToTheCache) {
  const LoadedReferenceModel reference = TinyReference();
  testing::TempDir dir;
  ScoreCacheOptions cache_options;
  cache_options.directory = dir.path();
  cache_options.map_size_bytes = 16ULL << 20;
  ScoreCache cache(cache_options);
  const std::vector<v1::Sequence> sequences = RandomSequences(4, 30, 11);
  DynamicBatcher batcher(reference.model, &cache, Options(256, 0));
  const Outcome outcome = SubmitAll(batcher, sequences).get();
  ASSERT_TRUE(outcome.status.ok());
  std::vector<CacheKey> keys;
  for (const v1::Sequence& sequence : sequences) {
    keys.push_back(MakeCacheKey("fp", sequence.token_ids().data(), static_cast<std::size_t>(sequence.token_ids_size()),
                                sequence.completion_start()));
  }
  const auto cached = cache.Lookup(keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(cached[i].has_value()) << i;
    EXPECT_EQ(*cached[i], outcome.entries[i]) << i;  // bit-exact
  }
  EXPECT_EQ(cache.Stats().inserted, 4U);
}

TEST(DynamicBatcherTest, FailedForwardFailsItsRequestOnly) {
  const LoadedReferenceModel reference = TinyReference();
  std::vector<v1::Sequence> bad(1);
  for (int id : {1, 2, 5000}) bad[0].add_token_ids(id);  // 5000 is outside the embedding: forward throws
  bad[0].set_completion_start(1);
  DynamicBatcher batcher(reference.model, nullptr, Options(256, 0));
  const Outcome failed = SubmitAll(batcher, bad).get();
  EXPECT_EQ(failed.status.code(), EngineCode::kInternal);
  EXPECT_NE(failed.status.message().find("forward of a batch of 1 sequences failed"), std::string::npos)
      << failed.status.message();
  const std::vector<v1::Sequence> good = RandomSequences(2, 10, 13);
  const Outcome outcome = SubmitAll(batcher, good).get();
  ASSERT_TRUE(outcome.status.ok());
  EXPECT_NEAR(outcome.entries[1].sum_log_prob, DirectScore(*reference.model, good[1]), 1e-4);
}

TEST(DynamicBatcherTest, IdleWorkerReleasesMemoryOncePerIdlePeriod) {
  const LoadedReferenceModel reference = TinyReference();
  BatcherOptions options = Options(/*max_batch_tokens=*/256, /*max_wait_ms=*/0);
  options.release_memory_after_idle_ms = 1;
  DynamicBatcher batcher(reference.model, nullptr, options);
  EXPECT_TRUE(Eventually([&] { return batcher.Stats().memory_releases == 1; }));  // idle since start
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(batcher.Stats().memory_releases, 1U);  // still the same idle period: once only
  ASSERT_TRUE(SubmitAll(batcher, RandomSequences(2, 20, 7)).get().status.ok());
  EXPECT_TRUE(Eventually([&] { return batcher.Stats().memory_releases == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(batcher.Stats().memory_releases, 2U);
  EXPECT_EQ(batcher.Stats().batches, 1U);
}

TEST(DynamicBatcherTest, ZeroIdleDelayNeverReleasesMemory) {
  const LoadedReferenceModel reference = TinyReference();
  BatcherOptions options = Options(/*max_batch_tokens=*/256, /*max_wait_ms=*/0);
  options.release_memory_after_idle_ms = 0;
  DynamicBatcher batcher(reference.model, nullptr, options);
  ASSERT_TRUE(SubmitAll(batcher, RandomSequences(2, 20, 7)).get().status.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(batcher.Stats().memory_releases, 0U);
  EXPECT_EQ(batcher.Stats().batches, 1U);
}

TEST(DynamicBatcherTest, InvalidOptionsAreAllReported) {
  BatcherOptions options;
  options.max_batch_tokens = 0;
  options.max_queued_requests = -1;
  options.release_memory_after_idle_ms = -5;
  const std::vector<std::string> problems = options.Validate();
  ASSERT_EQ(problems.size(), 3U);
  EXPECT_EQ(problems[0], "max_batch_tokens: 0, must be at least 1");
  EXPECT_EQ(problems[1], "max_queued_requests: -1, must be at least 1");
  EXPECT_EQ(problems[2], "release_memory_after_idle_ms: -5, must be at least 0");
  EXPECT_THROW(DynamicBatcher(TinyReference().model, nullptr, options), Error);
}

}  // namespace
}  // namespace dpo
