// Benchmark 1: Score on a warm cache against the echo floor. The same requests (16 sequences x
// 128 tokens, one micro-batch of 8 pairs) go to dpo-reference-server, after a first pass filled
// its cache, and to the echo server; both are separate processes on loopback.
#include <cstdio>
#include <stdexcept>

#include "bench/reference/bench_support.h"
#include "bench/reference/echo_server.h"

namespace dpo::bench {
namespace {

constexpr int kSequences = 16, kLength = 128, kPrompt = 32;
constexpr int kPoolSize = 32;          // distinct requests, cycled (512 cached sequences)
constexpr int kThroughputCallers = 4;  // concurrent closed-loop callers for sequences/s
constexpr int kRounds = 3;             // echo and server measured alternately
constexpr int64_t kMaxCalls = 20'000;  // per measurement, next to its time limit
constexpr double kCallTimeoutSeconds = 10;

struct Target {
  const char* name;
  std::unique_ptr<v1::ReferenceModel::Stub> stub;
  LatencySummary latency;     // one caller, all rounds together
  LatencySummary throughput;  // kThroughputCallers callers, all rounds together
};

void Append(LatencySummary& total, const LatencySummary& part) {
  total.calls += part.calls;
  total.errors += part.errors;
  total.seconds += part.seconds;
  total.latencies_s.insert(total.latencies_s.end(), part.latencies_s.begin(), part.latencies_s.end());
}

LatencySummary Measure(v1::ReferenceModel::Stub& stub, const std::vector<v1::ScoreRequest>& pool, int callers,
                       double seconds) {
  return RunClosedLoop(callers, kMaxCalls, seconds, [&](int /*thread*/, int64_t call) {
    v1::ScoreResponse response;
    return CallScoreWithDeadline(stub, pool[static_cast<size_t>(call) % pool.size()], &response, kCallTimeoutSeconds);
  });
}

}  // namespace

int RunHitBench(const BenchOptions& options) {
  const std::string model_dir = options.work_dir + "/model";
  WriteBenchModel(model_dir, 7);
  auto server = StartServer(model_dir, options.work_dir + "/cache-hit", options.work_dir + "/server-hit.log");
  EchoServerProcess echo(options.work_dir + "/echo.log");
  const auto server_channel = testing::PlainChannel(server->address());
  const std::string fingerprint = FetchFingerprint(server_channel);

  std::mt19937_64 random(11);
  std::vector<v1::ScoreRequest> pool;
  for (int i = 0; i < kPoolSize; ++i) pool.push_back(RandomRequest(fingerprint, kSequences, kLength, kPrompt, random));

  // Warm the cache (the first pass computes), then check that a second pass is all hits.
  auto server_stub = v1::ReferenceModel::NewStub(server_channel);
  int64_t response_bytes = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& request : pool) {
      v1::ScoreResponse response;
      const grpc::Status status = CallScoreWithDeadline(*server_stub, request, &response, 60);
      if (!status.ok()) throw std::runtime_error("warm-up Score failed: " + status.error_message());
      for (const auto& score : response.scores()) {
        if (pass == 1 && !score.from_cache()) throw std::runtime_error("second pass was not answered from the cache");
      }
      response_bytes = static_cast<int64_t>(response.ByteSizeLong());
    }
  }
  v1::ServerStats before;
  testing::CallStats(server_channel, &before);

  std::vector<Target> targets;
  targets.push_back({"echo", v1::ReferenceModel::NewStub(testing::PlainChannel(echo.address())), {}, {}});
  targets.push_back({"score", std::move(server_stub), {}, {}});
  for (Target& target : targets) Measure(*target.stub, pool, 1, 0.5 * options.seconds_scale);  // warm-up
  for (int round = 0; round < kRounds; ++round) {
    for (Target& target : targets) {
      Append(target.latency, Measure(*target.stub, pool, 1, 2.0 * options.seconds_scale));
      Append(target.throughput, Measure(*target.stub, pool, kThroughputCallers, 2.0 * options.seconds_scale));
    }
  }
  v1::ServerStats after;
  testing::CallStats(server_channel, &after);

  std::printf("== cached-hit Score vs echo floor ==\n");
  std::printf("request: %d sequences x %d tokens (%zu bytes); response %lld bytes; pool of %d requests; "
              "%d rounds, alternating\n",
              kSequences, kLength, pool[0].ByteSizeLong(), static_cast<long long>(response_bytes), kPoolSize, kRounds);
  std::printf("%-6s %8s %7s %9s %9s %12s  | %d callers: %12s %7s\n", "target", "calls", "errors", "p50 ms", "p99 ms",
              "seq/s", kThroughputCallers, "seq/s", "errors");
  for (const Target& target : targets) {
    std::printf("%-6s %8lld %7lld %9.3f %9.3f %12.0f  | %d callers: %12.0f %7lld\n", target.name,
                static_cast<long long>(target.latency.calls), static_cast<long long>(target.latency.errors),
                target.latency.P50Ms(), target.latency.P99Ms(), kSequences * target.latency.CallsPerSecond(),
                kThroughputCallers, kSequences * target.throughput.CallsPerSecond(),
                static_cast<long long>(target.throughput.errors));
  }
  const double ratio = targets[1].latency.P50Ms() / targets[0].latency.P50Ms();
  std::printf("p50 ratio score/echo: %.2fx (goal <= 1.5x); p99 ratio %.2fx; throughput ratio echo/score %.2fx\n",
              ratio, targets[1].latency.P99Ms() / targets[0].latency.P99Ms(),
              targets[0].throughput.CallsPerSecond() / targets[1].throughput.CallsPerSecond());
  std::printf("server during the timed part: %llu sequences from the cache, %llu computed\n",
              static_cast<unsigned long long>(after.cache().hits() - before.cache().hits()),
              static_cast<unsigned long long>(after.sequences_computed() - before.sequences_computed()));
  return 0;
}

}  // namespace dpo::bench
