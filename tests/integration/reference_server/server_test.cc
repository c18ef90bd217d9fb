// dpo-reference-server end to end: parity with the direct computation per sequence, 8 concurrent
// clients, every bad-request kind with its exact status (request_validation's own messages), a
// fingerprint mismatch, and health transitions from loading through draining.
#include <gtest/gtest.h>
#include <signal.h>

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "core/model/fingerprint.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "reference_server/engine/request_validation.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using namespace dpo::testing;  // NOLINT: test helpers

// ServerReflectionInfo with one list_services request, over the generic API (Debian ships no
// reflection.proto): the raw response bytes, or "status <code>" when the call fails.
std::string ListServicesRaw(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::CompletionQueue queue;
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  auto step = [&queue](int tag) {
    void* got = nullptr;
    bool ok = false;
    return queue.Next(&got, &ok) && got == reinterpret_cast<void*>(static_cast<intptr_t>(tag)) && ok;
  };
  auto tag = [](int t) { return reinterpret_cast<void*>(static_cast<intptr_t>(t)); };
  call->StartCall(tag(1));
  bool ok = step(1);
  const char list_services[] = {0x3a, 0x00};  // field 7 (list_services), empty string
  grpc::Slice slice(list_services, sizeof(list_services));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  if (ok) call->Write(request, tag(2));
  ok = ok && step(2);
  if (ok) call->WritesDone(tag(3));
  ok = ok && step(3);
  if (ok) call->Read(&response, tag(4));
  const bool read = ok && step(4);
  grpc::Status status;
  call->Finish(&status, tag(5));
  step(5);
  if (!status.ok()) return "status " + std::to_string(status.error_code());
  std::vector<grpc::Slice> slices;
  if (!read || !response.Dump(&slices).ok()) return "no response";
  std::string bytes;
  for (const grpc::Slice& part : slices) bytes.append(reinterpret_cast<const char*>(part.begin()), part.size());
  return bytes;
}

class ReferenceServerTest : public ::testing::Test {
 protected:
  void SetUp() override { model_ = WriteTinyModel(dir_.File("model"), 5); }
  // Starts a server over this test's model and cache; waits until it serves.
  std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra = {}, bool wait = true) {
    auto server = std::make_unique<ServerProcess>(ServeArgs(dir_.File("model"), dir_.File("cache"), extra),
                                                  dir_.File("server-" + std::to_string(++starts_) + ".log"));
    EXPECT_FALSE(server->address().empty()) << server->Log();
    if (wait) {
      EXPECT_TRUE(server->WaitServing()) << server->Log();
    }
    return server;
  }
  std::string Fingerprint() { return ModelFingerprint(*model_, "byte"); }
  void ExpectMatchesDirect(const v1::ScoreRequest& request, const v1::ScoreResponse& response) {
    ASSERT_EQ(response.scores_size(), request.sequences_size());
    for (int i = 0; i < request.sequences_size(); ++i) {
      const v1::Sequence& sequence = request.sequences(i);
      const std::vector<int32_t> ids(sequence.token_ids().begin(), sequence.token_ids().end());
      const float expected = DirectScore(*model_, ids, sequence.completion_start());
      EXPECT_NEAR(response.scores(i).sum_log_prob(), expected, 1e-6 * std::max(1.0F, std::fabs(expected))) << i;
      EXPECT_EQ(response.scores(i).completion_tokens(), sequence.token_ids_size() - sequence.completion_start()) << i;
    }
  }

  TempDir dir_;
  std::shared_ptr<CausalLm> model_;
  int starts_ = 0;
};

TEST_F(ReferenceServerTest, ModelInfoAndScoresMatchTheDirectComputation) {
  auto server = Start();
  const auto channel = PlainChannel(server->address());
  v1::ModelInfo info;
  ASSERT_TRUE(CallModelInfo(channel, &info).ok());
  EXPECT_EQ(info.fingerprint(), Fingerprint());
  EXPECT_EQ(info.model_type(), "gpt2");
  EXPECT_EQ(info.vocab_size(), 259);
  EXPECT_EQ(info.max_sequence_length(), 64);
  EXPECT_EQ(info.dtype(), "float32");
  EXPECT_EQ(info.tokenizer(), "byte");
  EXPECT_EQ(info.server_version(), "0.1.0");
  EXPECT_EQ(info.max_request_tokens(), 1 << 20);
  EXPECT_EQ(info.cache().entries(), 0U);

  const v1::ScoreRequest request = MakeRequest(info.fingerprint(), RandomSequences(12, 60, 1));
  v1::ScoreResponse first;
  const grpc::Status status = CallScore(channel, request, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectMatchesDirect(request, first);
  for (const v1::SequenceScore& score : first.scores()) EXPECT_FALSE(score.from_cache());

  v1::ScoreResponse second;
  ASSERT_TRUE(CallScore(channel, request, &second).ok());
  for (int i = 0; i < 12; ++i) {
    EXPECT_TRUE(second.scores(i).from_cache()) << i;
    EXPECT_EQ(second.scores(i).sum_log_prob(), first.scores(i).sum_log_prob()) << i;  // bit-exact
  }
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(channel, &stats).ok());
  EXPECT_EQ(stats.requests(), 2U);
  EXPECT_EQ(stats.sequences_scored(), 24U);
  EXPECT_EQ(stats.sequences_computed(), 12U);
  EXPECT_EQ(stats.cache().entries(), 12U);
  EXPECT_EQ(stats.cache().hits(), 12U);
  EXPECT_GT(stats.uptime_seconds(), 0.0);
}

TEST_F(ReferenceServerTest, EightConcurrentClientsAllGetCorrectScores) {
  auto server = Start({"--max-wait-ms", "20"});
  const std::string fingerprint = Fingerprint();
  constexpr int kClients = 8;
  constexpr int kRequests = 4;
  std::vector<std::vector<v1::ScoreRequest>> requests(kClients);
  std::vector<std::vector<v1::ScoreResponse>> responses(kClients, std::vector<v1::ScoreResponse>(kRequests));
  std::vector<std::vector<grpc::Status>> statuses(kClients, std::vector<grpc::Status>(kRequests));
  for (int c = 0; c < kClients; ++c) {
    for (int r = 0; r < kRequests; ++r) {
      // Clients 0-3 and 4-7 send the same sequences: some requests hit what another computed.
      requests[c].push_back(MakeRequest(fingerprint, RandomSequences(6, 50, static_cast<uint32_t>(100 * (c % 4) + r))));
    }
  }
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const auto channel = PlainChannel(server->address());  // one channel per client, like ranks
      for (int r = 0; r < kRequests; ++r) statuses[c][r] = CallScore(channel, requests[c][r], &responses[c][r]);
    });
  }
  for (std::thread& client : clients) client.join();
  for (int c = 0; c < kClients; ++c) {
    for (int r = 0; r < kRequests; ++r) {
      ASSERT_TRUE(statuses[c][r].ok()) << c << "/" << r << ": " << statuses[c][r].error_message();
      ExpectMatchesDirect(requests[c][r], responses[c][r]);
    }
  }
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(PlainChannel(server->address()), &stats).ok());
  EXPECT_EQ(stats.requests(), static_cast<uint64_t>(kClients * kRequests));
  EXPECT_EQ(stats.requests_failed(), 0U);
  EXPECT_EQ(stats.sequences_scored(), static_cast<uint64_t>(kClients * kRequests * 6));
  EXPECT_LT(stats.batches(), static_cast<uint64_t>(kClients * kRequests));  // requests shared forwards
}

TEST_F(ReferenceServerTest, EveryBadRequestGetsItsExactStatusAndTheServerKeepsServing) {
  auto server = Start({"--max-request-tokens", "100", "--max-message-bytes", "1048576"});
  const auto channel = PlainChannel(server->address());
  const std::string fingerprint = Fingerprint();
  const v1::ScoreRequest good = MakeRequest(fingerprint, {{{1, 2, 3, 4}, 2}, {{5, 6, 7}, 1}});
  ScoreLimits limits;  // what the server was started with
  limits.vocab_size = 259;
  limits.max_sequence_length = 64;
  limits.max_request_tokens = 100;
  struct Case {
    const char* name;
    std::function<void(v1::ScoreRequest&)> damage;
    grpc::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"empty batch", [](v1::ScoreRequest& r) { r.clear_sequences(); }, grpc::StatusCode::INVALID_ARGUMENT},
      {"token id negative", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_token_ids(2, -1); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"token id = vocab", [](v1::ScoreRequest& r) { r.mutable_sequences(0)->set_token_ids(3, 259); },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"completion_start 0", [](v1::ScoreRequest& r) { r.mutable_sequences(0)->set_completion_start(0); },
       grpc::StatusCode::OUT_OF_RANGE},
      {"completion_start negative", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_completion_start(-3); },
       grpc::StatusCode::OUT_OF_RANGE},
      {"completion_start = size", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_completion_start(3); },
       grpc::StatusCode::OUT_OF_RANGE},
      {"longer than max_sequence_length",
       [](v1::ScoreRequest& r) { for (int t = 0; t < 62; ++t) r.mutable_sequences(0)->add_token_ids(9); },
       grpc::StatusCode::OUT_OF_RANGE},
      {"over max_request_tokens",
       [](v1::ScoreRequest& r) { for (int k = 0; k < 2; ++k) { auto* s = r.add_sequences(); for (int t = 0; t < 50; ++t) s->add_token_ids(1); s->set_completion_start(1); } },
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"no fingerprint", [](v1::ScoreRequest& r) { r.clear_expected_fingerprint(); }, grpc::StatusCode::INVALID_ARGUMENT},
      {"fingerprint mismatch", [](v1::ScoreRequest& r) { r.set_expected_fingerprint(std::string(64, 'f')); },
       grpc::StatusCode::FAILED_PRECONDITION},
  };
  for (const Case& c : cases) {
    v1::ScoreRequest request = good;
    c.damage(request);
    const EngineStatus expected = ValidateScoreRequest(request, fingerprint, limits);
    ASSERT_FALSE(expected.ok()) << c.name << ": the case does not test what it says";
    v1::ScoreResponse response;
    const grpc::Status status = CallScore(channel, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_EQ(status.error_message(), expected.message()) << c.name;
    EXPECT_EQ(response.scores_size(), 0) << c.name;
  }
  // The mismatch names both fingerprints.
  v1::ScoreRequest mismatch = good;
  mismatch.set_expected_fingerprint(std::string(64, 'f'));
  v1::ScoreResponse ignored;
  const grpc::Status status = CallScore(channel, mismatch, &ignored);
  EXPECT_NE(status.error_message().find(std::string(64, 'f')), std::string::npos);
  EXPECT_NE(status.error_message().find(fingerprint), std::string::npos);

  // A message over --max-message-bytes is refused by the transport, with the same code family.
  v1::ScoreRequest huge = good;
  huge.mutable_sequences(0)->mutable_token_ids()->Resize(400000, 200);  // 2-byte varints: ~800 KB
  huge.add_sequences()->mutable_token_ids()->Resize(400000, 200);  // 1.6 MB in all, over 1 MiB
  EXPECT_EQ(CallScore(channel, huge, &ignored).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  v1::ScoreResponse response;
  ASSERT_TRUE(CallScore(channel, good, &response).ok());
  ExpectMatchesDirect(good, response);
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(channel, &stats).ok());
  EXPECT_EQ(stats.requests_failed(), cases.size() + 1);  // the transport's refusal never reached the service
  EXPECT_EQ(stats.requests(), cases.size() + 2);
}

TEST_F(ReferenceServerTest, HealthIsNotServingWhileLoadingServingAfterAndNotServingWhileDraining) {
  auto server = Start({"--health-listen", "127.0.0.1:0", "--debug-load-delay-ms", "3000", "--debug-forward-delay-ms",
                       "4000"},
                      /*wait=*/false);
  ASSERT_FALSE(server->health_address().empty()) << server->Log();
  const auto main_port = PlainChannel(server->address());
  const auto health_port = PlainChannel(server->health_address());
  EXPECT_EQ(HealthCheck(main_port, ""), "NOT_SERVING");
  EXPECT_EQ(HealthCheck(main_port, "dpo.v1.ReferenceModel"), "NOT_SERVING");
  EXPECT_EQ(HealthCheck(health_port, ""), "NOT_SERVING");
  EXPECT_EQ(HealthCheck(health_port, "dpo.v1.ReferenceModel"), "NOT_SERVING");
  EXPECT_EQ(HealthCheck(health_port, "no.such.Service"), "NOT_FOUND");
  v1::ModelInfo info;
  const grpc::Status loading = CallModelInfo(main_port, &info);
  EXPECT_EQ(loading.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(loading.error_message().find("model loading"), std::string::npos) << loading.error_message();

  ASSERT_TRUE(server->WaitServing()) << server->Log();
  EXPECT_EQ(HealthCheck(main_port, ""), "SERVING");
  EXPECT_EQ(HealthCheck(main_port, "dpo.v1.ReferenceModel"), "SERVING");
  EXPECT_EQ(HealthCheck(health_port, ""), "SERVING");
  EXPECT_EQ(HealthCheck(health_port, "dpo.v1.ReferenceModel"), "SERVING");

  // A request in flight (its forward takes 4 s), then SIGTERM: health drops while the request is
  // still in flight (an order, not a time limit), the request completes, and the process exits 0.
  const v1::ScoreRequest request = MakeRequest(Fingerprint(), RandomSequences(3, 30, 4));
  v1::ScoreResponse response;
  grpc::Status in_flight;
  std::atomic<bool> answered{false};
  std::thread client([&] {
    in_flight = CallScore(main_port, request, &response);
    answered = true;
  });
  v1::ServerStats stats;
  while (stats.queued_requests() == 0 && stats.requests() == 0) {  // until the server has it
    ASSERT_TRUE(CallStats(main_port, &stats).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server->process().Signal(SIGTERM);
  std::string draining;
  for (int i = 0; i < 100 && draining != "NOT_SERVING"; ++i) {
    draining = HealthCheck(health_port, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(draining, "NOT_SERVING");
  EXPECT_FALSE(answered.load()) << "health must drop while the forward is still running";
  client.join();
  ASSERT_TRUE(in_flight.ok()) << in_flight.error_message();
  ExpectMatchesDirect(request, response);
  EXPECT_EQ(server->process().Wait(60), 0) << server->Log();
  EXPECT_NE(server->Log().find("drained, cache synced"), std::string::npos) << server->Log();
}

TEST_F(ReferenceServerTest, HealthWatchersSeeNotServingAndDoNotHoldUpTheDrain) {
  auto server = Start({"--health-listen", "127.0.0.1:0", "--drain-timeout-ms", "30000"});
  grpc::ClientContext main_context;
  grpc::ClientContext probe_context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("dpo.v1.ReferenceModel");
  auto main_watch = grpc::health::v1::Health::NewStub(PlainChannel(server->address()))->Watch(&main_context, request);
  auto probe_watch =
      grpc::health::v1::Health::NewStub(PlainChannel(server->health_address()))->Watch(&probe_context, request);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(main_watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(probe_watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  const auto signalled = std::chrono::steady_clock::now();
  server->process().Signal(SIGTERM);
  ASSERT_TRUE(probe_watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(server->process().Wait(60), 0) << server->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(10))
      << "open Watch streams must not keep the drain waiting for --drain-timeout-ms";
  while (main_watch->Read(&update)) {
  }
  while (probe_watch->Read(&update)) {
  }
}

TEST_F(ReferenceServerTest, ReflectionListsTheServicesOnTheMainPortOnly) {
  auto server = Start({"--health-listen", "127.0.0.1:0"});
  const std::string services = ListServicesRaw(PlainChannel(server->address()));
  EXPECT_NE(services.find("dpo.v1.ReferenceModel"), std::string::npos) << services;
  EXPECT_NE(services.find("grpc.health.v1.Health"), std::string::npos) << services;
  // The probe port serves health alone.
  EXPECT_EQ(ListServicesRaw(PlainChannel(server->health_address())),
            "status " + std::to_string(grpc::StatusCode::UNIMPLEMENTED));
}

}  // namespace
}  // namespace dpo
