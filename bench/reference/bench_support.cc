// The benchmark model, server start-up, requests, latency summaries and RSS samples shared by
// dpo-bench-reference's modes.
#include "bench/reference/bench_support.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"

namespace dpo::bench {

ModelConfig BenchModelConfig() { return testing::ByteGpt2Config(128, 128, 4, 4); }

std::shared_ptr<CausalLm> WriteBenchModel(const std::string& dir, uint64_t seed) {
  return testing::WriteModel(dir, seed, BenchModelConfig());
}

std::unique_ptr<testing::ServerProcess> StartServer(const std::string& model_dir, const std::string& cache_dir,
                                                    const std::string& log_path,
                                                    const std::vector<std::string>& extra) {
  auto server = std::make_unique<testing::ServerProcess>(testing::ServeArgs(model_dir, cache_dir, extra), log_path);
  if (!server->WaitServing(std::chrono::seconds(60))) {
    throw std::runtime_error("dpo-reference-server did not start serving; its log:\n" + server->Log());
  }
  return server;
}

std::string FetchFingerprint(const std::shared_ptr<grpc::Channel>& channel) {
  v1::ModelInfo info;
  const grpc::Status status = testing::CallModelInfo(channel, &info);
  if (!status.ok()) throw std::runtime_error("GetModelInfo failed: " + status.error_message());
  return info.fingerprint();
}

v1::ScoreRequest RandomRequest(const std::string& fingerprint, int count, int length, int prompt_tokens,
                               std::mt19937_64& random) {
  const int32_t vocab_size = static_cast<int32_t>(BenchModelConfig().vocab_size);
  std::uniform_int_distribution<int32_t> token(0, vocab_size - 1);
  std::vector<std::pair<std::vector<int32_t>, int32_t>> sequences;
  sequences.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> ids(static_cast<size_t>(length));
    for (int32_t& id : ids) id = token(random);
    sequences.emplace_back(std::move(ids), prompt_tokens);
  }
  return testing::MakeRequest(fingerprint, sequences);
}

double Seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  const size_t index = std::min(values.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index), values.end());
  return values[index];
}

LatencySummary RunClosedLoop(int threads, int64_t max_calls, double max_seconds,
                             const std::function<grpc::Status(int thread, int64_t call)>& call) {
  std::atomic<int64_t> next{0};
  std::mutex mutex;  // guards `summary`
  LatencySummary summary;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
  std::vector<std::thread> workers;
  for (int thread = 0; thread < threads; ++thread) {
    workers.emplace_back([&, thread] {
      std::vector<double> latencies;
      int64_t calls = 0, errors = 0;
      for (int64_t i = next++; i < max_calls && Clock::now() < stop; i = next++) {
        const auto begin = Clock::now();
        const grpc::Status status = call(thread, i);
        const double latency = Seconds(Clock::now() - begin);
        ++calls;
        if (status.ok()) {
          latencies.push_back(latency);
        } else {
          ++errors;
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      summary.calls += calls;
      summary.errors += errors;
      summary.latencies_s.insert(summary.latencies_s.end(), latencies.begin(), latencies.end());
    });
  }
  for (auto& worker : workers) worker.join();
  summary.seconds = Seconds(Clock::now() - start);
  return summary;
}

grpc::Status CallScoreWithDeadline(v1::ReferenceModel::Stub& stub, const v1::ScoreRequest& request,
                                   v1::ScoreResponse* response, double timeout_s) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6)));
  return stub.Score(&context, request, response);
}

int64_t ReadProcStatusKib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = field + ":";
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));  // "VmRSS:   12345 kB"
  }
  return -1;
}

}  // namespace dpo::bench
