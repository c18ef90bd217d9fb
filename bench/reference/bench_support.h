// Shared pieces of dpo-bench-reference: its options, the benchmark model written as a server
// model directory, the real server started and waited for, fixed-shape requests, latency
// summaries, a closed-loop caller and the server's resident memory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/common/clock.h"
#include "core/model/model_config.h"
#include "dpo/v1/reference_service.grpc.pb.h"
#include "tests/integration/reference_server/server_fixture.h"

namespace dpo {
class CausalLm;
}

namespace dpo::bench {


struct BenchOptions {
  std::string work_dir;             // model, caches and server logs (a temporary directory)
  double seconds_scale = 1.0;       // scales every measuring period (0.2: a quick smoke run)
  int64_t step_rounds = 6;          // step: interleaved rounds of each configuration
  int64_t steps_per_round = 6;      // step: timed steps per configuration and round
  double load_seconds = 30;         // load: the sustained open-loop phase
  double overload_seconds = 10;     // load: the 5x phase
  double recovery_seconds = 15;     // load: back at the sustained rate
  double load_fraction = 0.5;       // load: sustained rate as a fraction of the probed capacity
  double load_rate = 0;             // load: requests/s; > 0 overrides load_fraction
  int load_sequences = 4;           // load: sequences per request (random: every one a miss)
  std::string load_records;         // load: when set, a CSV of every call and RSS sample
};

// The ~1M-parameter GPT-2 of dpo-bench-step (width 128, 4 layers, 4 heads, byte vocabulary),
// with room for sequences of up to 128 tokens.
ModelConfig BenchModelConfig();

// Creates the model with `seed`, saves it and the byte tokenizer's record into `dir` (a model
// directory dpo-reference-server loads), and returns it.
std::shared_ptr<CausalLm> WriteBenchModel(const std::string& dir, uint64_t seed);

// dpo-reference-server on 127.0.0.1:0 with a one-thread BLAS, `model_dir`, `cache_dir` and
// `extra` flags, waited for until it serves. Throws std::runtime_error with its log otherwise.
std::unique_ptr<testing::ServerProcess> StartServer(const std::string& model_dir, const std::string& cache_dir,
                                                    const std::string& log_path,
                                                    const std::vector<std::string>& extra = {});

// GetModelInfo's fingerprint; throws std::runtime_error when the call fails.
std::string FetchFingerprint(const std::shared_ptr<grpc::Channel>& channel);

// `count` sequences of `length` tokens, ids uniform over the byte vocabulary, the completion
// starting at `prompt_tokens`: the shape of a collated micro-batch without padding.
v1::ScoreRequest RandomRequest(const std::string& fingerprint, int count, int length, int prompt_tokens,
                               std::mt19937_64& random);

double Seconds(Clock::duration duration);
// The q-quantile (0 <= q <= 1, nearest rank) of `values`; 0 when empty.
double Percentile(std::vector<double> values, double q);

struct LatencySummary {
  int64_t calls = 0;   // completed calls (OK or not)
  int64_t errors = 0;  // non-OK calls
  double seconds = 0;  // wall time of the run
  std::vector<double> latencies_s;  // of the OK calls
  double P50Ms() const { return 1e3 * Percentile(latencies_s, 0.5); }
  double P99Ms() const { return 1e3 * Percentile(latencies_s, 0.99); }
  double CallsPerSecond() const { return seconds > 0 ? static_cast<double>(calls - errors) / seconds : 0; }
};

// Closed loop: `threads` callers each run call(thread, i) back to back until `max_calls` calls in
// all or `max_seconds` have passed. Latency is measured around each call.
LatencySummary RunClosedLoop(int threads, int64_t max_calls, double max_seconds,
                             const std::function<grpc::Status(int thread, int64_t call)>& call);

// A unary Score with a deadline of `timeout_s` on `stub`.
grpc::Status CallScoreWithDeadline(v1::ReferenceModel::Stub& stub, const v1::ScoreRequest& request,
                                   v1::ScoreResponse* response, double timeout_s);

// A "<field>:  N kB" line of /proc/<pid>/status ("VmRSS", "RssAnon", "RssFile") in KiB; -1 when
// unreadable.
int64_t ReadProcStatusKib(pid_t pid, const std::string& field);

// The benchmarks; each prints its own figures and returns 0.
int RunHitBench(const BenchOptions& options);
int RunStepBench(const BenchOptions& options);
int RunLoadBench(const BenchOptions& options);

}  // namespace dpo::bench
