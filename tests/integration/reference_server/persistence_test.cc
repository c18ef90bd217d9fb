// The server's cache across process lifetimes: a clean restart serves everything from the cache,
// a SIGKILL in the middle of a burst of writes leaves a cache that opens and serves correct
// values, and a flipped byte in the database file is detected, counted and recomputed.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/model/fingerprint.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using namespace dpo::testing;  // NOLINT: test helpers

class CachePersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = WriteTinyModel(dir_.File("model"), 8);
    fingerprint_ = ModelFingerprint(*model_, "byte");
  }
  std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra = {}) {
    auto server = std::make_unique<ServerProcess>(ServeArgs(dir_.File("model"), dir_.File("cache"), extra),
                                                  dir_.File("server-" + std::to_string(++starts_) + ".log"));
    EXPECT_FALSE(server->address().empty()) << server->Log();
    EXPECT_TRUE(server->WaitServing()) << server->Log();
    return server;
  }
  float Direct(const v1::Sequence& sequence) {
    const std::vector<int32_t> ids(sequence.token_ids().begin(), sequence.token_ids().end());
    return DirectScore(*model_, ids, sequence.completion_start());
  }
  v1::ServerStats Stats(const ServerProcess& server) {
    v1::ServerStats stats;
    EXPECT_TRUE(CallStats(PlainChannel(server.address()), &stats).ok());
    return stats;
  }

  TempDir dir_;
  std::shared_ptr<CausalLm> model_;
  std::string fingerprint_;
  int starts_ = 0;
};

TEST_F(CachePersistenceTest, RestartServesEverythingFromTheCache) {
  const v1::ScoreRequest request = MakeRequest(fingerprint_, RandomSequences(10, 40, 31));
  v1::ScoreResponse first;
  {
    auto server = Start();
    ASSERT_TRUE(CallScore(PlainChannel(server->address()), request, &first).ok());
    server->process().Signal(SIGTERM);
    ASSERT_EQ(server->process().Wait(60), 0) << server->Log();
  }
  auto server = Start();
  v1::ScoreResponse second;
  ASSERT_TRUE(CallScore(PlainChannel(server->address()), request, &second).ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(second.scores(i).from_cache()) << i;
    EXPECT_EQ(second.scores(i).sum_log_prob(), first.scores(i).sum_log_prob()) << i;
    EXPECT_EQ(second.scores(i).completion_tokens(), first.scores(i).completion_tokens()) << i;
  }
  const v1::ServerStats stats = Stats(*server);
  EXPECT_EQ(stats.sequences_computed(), 0U);
  EXPECT_EQ(stats.cache().entries(), 10U);
  EXPECT_EQ(stats.cache().hits(), 10U);
}

TEST_F(CachePersistenceTest, SigkillDuringABurstOfWritesLeavesACacheThatServesCorrectValues) {
  constexpr int kClients = 4;
  constexpr int kRequestsPerClient = 60;
  std::vector<v1::ScoreRequest> requests;
  for (int r = 0; r < kClients * kRequestsPerClient; ++r) {
    requests.push_back(MakeRequest(fingerprint_, RandomSequences(4, 40, static_cast<uint32_t>(1000 + r))));
  }
  uint64_t entries_before_kill = 0;
  {
    auto server = Start({"--max-wait-ms", "0"});
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        const auto channel = PlainChannel(server->address());
        for (int r = c; r < static_cast<int>(requests.size()) && !stop; r += kClients) {
          v1::ScoreResponse ignored;
          CallScore(channel, requests[static_cast<std::size_t>(r)], &ignored);  // fails once killed
        }
      });
    }
    // Kill once a good part of the burst is committed, while writes keep coming.
    for (int i = 0; i < 2000 && entries_before_kill < 100; ++i) {
      entries_before_kill = Stats(*server).cache().entries();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server->process().Signal(SIGKILL);
    EXPECT_EQ(server->process().Wait(30), 128 + SIGKILL);
    stop = true;
    for (std::thread& client : clients) client.join();
  }
  ASSERT_GE(entries_before_kill, 100U) << "the burst was too slow to test a kill mid-stream";
  auto server = Start();
  const auto channel = PlainChannel(server->address());
  int from_cache = 0;
  for (const v1::ScoreRequest& request : requests) {
    v1::ScoreResponse response;
    ASSERT_TRUE(CallScore(channel, request, &response).ok());
    for (int i = 0; i < request.sequences_size(); ++i) {
      const float expected = Direct(request.sequences(i));
      EXPECT_NEAR(response.scores(i).sum_log_prob(), expected, 1e-6 * std::max(1.0F, std::fabs(expected)));
      from_cache += response.scores(i).from_cache() ? 1 : 0;
    }
  }
  const v1::ServerStats stats = Stats(*server);
  EXPECT_EQ(stats.cache().corrupt(), 0U);
  EXPECT_GE(static_cast<uint64_t>(from_cache), entries_before_kill);  // every commit before the kill survived
  EXPECT_LT(from_cache, kClients * kRequestsPerClient * 4);           // and the kill did cut the burst short
}

TEST_F(CachePersistenceTest, FlippedByteInTheDatabaseIsDetectedCountedAndRecomputed) {
  const v1::ScoreRequest request = MakeRequest(fingerprint_, {{{256, 10, 20, 30, 40, 50, 257}, 3}});
  v1::ScoreResponse first;
  {
    auto server = Start();
    ASSERT_TRUE(CallScore(PlainChannel(server->address()), request, &first).ok());
    server->process().Signal(SIGTERM);
    ASSERT_EQ(server->process().Wait(60), 0) << server->Log();
  }
  // The record stores the float32 bits of the sum: find them in data.mdb and flip one bit.
  const std::string path = dir_.File("cache") + "/data.mdb";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const float value = first.scores(0).sum_log_prob();
  std::string pattern(4, '\0');
  std::memcpy(pattern.data(), &value, 4);  // little-endian machine, as the record format
  const std::size_t at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find(pattern, at + 1), std::string::npos) << "the value must occur once in the file";
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  {
    std::ofstream out(path, std::ios::binary | std::ios::in);
    out.seekp(static_cast<std::streamoff>(at));
    out.put(bytes[at]);
  }
  auto server = Start();
  const auto channel = PlainChannel(server->address());
  v1::ScoreResponse recomputed;
  ASSERT_TRUE(CallScore(channel, request, &recomputed).ok());
  EXPECT_FALSE(recomputed.scores(0).from_cache());  // the damaged record was never served
  EXPECT_EQ(recomputed.scores(0).sum_log_prob(), value);
  EXPECT_EQ(Stats(*server).cache().corrupt(), 1U);
  v1::ScoreResponse again;
  ASSERT_TRUE(CallScore(channel, request, &again).ok());
  EXPECT_TRUE(again.scores(0).from_cache());  // rewritten
  EXPECT_EQ(again.scores(0).sum_log_prob(), value);
}

}  // namespace
}  // namespace dpo
