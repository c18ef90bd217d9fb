// A real Prometheus (Debian's `prometheus`) scrapes a 2-rank dpo-train job and the reference
// server it uses: the series exist with the right labels and agree with metrics.jsonl, and every
// exposition passes `promtool check metrics`.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "core/model/fingerprint.h"
#include "tests/integration/launch_fixture.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/http_get.h"

namespace dpo::testing {
namespace {

// A TCP port nobody listens on now (the kernel's choice for port 0). With `pair`, one whose
// successor is free too (rank r serves on base + r).
int FreePort(bool pair = false) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    const int port = ntohs(address.sin_port);
    bool next_free = true;
    if (pair) {
      const int next = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in second = address;
      second.sin_port = htons(static_cast<uint16_t>(port + 1));
      next_free = port < 65535 && ::bind(next, reinterpret_cast<sockaddr*>(&second), sizeof(second)) == 0;
      ::close(next);
    }
    ::close(fd);
    if (next_free) return port;
  }
  return 0;
}

std::string Which(const std::string& program) {
  const ProcessResult found = RunProcess({"/bin/sh", "-c", "command -v " + program});
  return found.exit_code == 0 ? found.output.substr(0, found.output.find('\n')) : "";
}

// The result vector of an instant query, as (labels, value) pairs.
std::vector<std::pair<nlohmann::json, double>> Query(int port, const std::string& promql) {
  const HttpResponse response = HttpGet("127.0.0.1", port, "/api/v1/query?query=" + UrlEncode(promql));
  std::vector<std::pair<nlohmann::json, double>> series;
  if (response.status != 200) return series;
  const auto body = nlohmann::json::parse(response.body);
  for (const auto& item : body["data"]["result"]) {
    series.emplace_back(item["metric"], std::stod(item["value"][1].get<std::string>()));
  }
  return series;
}

// promtool check metrics on what `port` serves at /metrics; "" when it passes.
std::string PromtoolProblems(const std::string& promtool, int port, const std::string& file) {
  const HttpResponse response = HttpGet("127.0.0.1", port, "/metrics");
  if (response.status != 200) return "no /metrics on port " + std::to_string(port);
  WriteFileAtomically(file, response.body);
  const ProcessResult checked = RunProcess({"/bin/sh", "-c", promtool + " check metrics < " + file});
  return checked.exit_code == 0 ? "" : checked.output;
}

TEST(PrometheusTest, ScrapesTwoRanksAndTheReferenceServer) {
  const std::string prometheus = Which("prometheus"), promtool = Which("promtool"), mpirun = Which("mpirun");
  ASSERT_FALSE(prometheus.empty()) << "prometheus is not installed (scripts/install-deps installs it)";
  ASSERT_FALSE(promtool.empty());
  TempDir work;
  LaunchJob launch(48, "  max_steps: 6\n");
  const TrainJob& job = launch.job();
  const std::string model_dir = work.File("model");
  const std::string fingerprint = ModelFingerprint(*WriteTinyModel(model_dir, 5), "byte");
  ServerProcess server(ServeArgs(model_dir, work.File("cache"), {"--metrics-listen", "127.0.0.1:0"}), work.File("server.log"));
  ASSERT_FALSE(server.address().empty()) << server.Log();
  std::smatch match;
  const std::string server_log = server.Log();
  ASSERT_TRUE(std::regex_search(server_log, match, std::regex("metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics"))) << server_log;
  const int server_metrics_port = std::stoi(match[1]);
  ASSERT_TRUE(server.WaitServing());

  const int rank_base = FreePort(/*pair=*/true), prometheus_port = FreePort();
  std::ofstream(work.File("prometheus.yml"))
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
      << "  - job_name: dpo-train\n    static_configs:\n      - targets: ['127.0.0.1:" << rank_base << "', '127.0.0.1:"
      << rank_base + 1 << "']\n"
      << "  - job_name: dpo-reference\n    static_configs:\n      - targets: ['127.0.0.1:" << server_metrics_port << "']\n";
  BackgroundProcess scraper({prometheus, "--config.file=" + work.File("prometheus.yml"),
                             "--storage.tsdb.path=" + work.File("tsdb"), "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                            {}, work.File("prometheus.log"));

  std::vector<std::string> command = {mpirun, "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS", "-x", "OPENBLAS_NUM_THREADS"};
  if (geteuid() == 0) command.push_back("--allow-run-as-root");
  command.insert(command.end(), {"-np", "2"});
  const auto train = job.Command({"--set", "training.gradient_accumulation_steps=1",  // 2 ranks x 4 pairs
                                  "--set", "model.init=" + model_dir, "--set", "reference.mode=server", "--set",
                                  "reference.address=" + server.address(), "--set", "reference.fingerprint=" + fingerprint, "--set",
                                  "metrics.prometheus_listen=127.0.0.1:" + std::to_string(rank_base), "--set",
                                  "metrics.prometheus_linger_seconds=6"});
  command.insert(command.end(), train.begin(), train.end());
  BackgroundProcess ranks(command, SingleThreadEnv(), work.File("train.log"));
  // Until the last step is logged (the ranks then linger), or the job ends early.
  bool trained = false;
  for (int attempt = 0; attempt < 240 && !trained; ++attempt) {
    trained = WaitForMetricsRecords(job, 6, 0.5);
    if (!trained && ranks.Wait(0.5) != -1) break;
  }
  ASSERT_TRUE(trained) << ReadFile(work.File("train.log"));
  // Lingering: every exposition is well formed.
  for (const int port : {rank_base, rank_base + 1, server_metrics_port}) {
    EXPECT_EQ(PromtoolProblems(promtool, port, work.File("exposition-" + std::to_string(port) + ".txt")), "") << port;
  }
  ASSERT_EQ(ranks.Wait(60), 0) << ReadFile(work.File("train.log"));

  const auto records = job.Metrics();
  const double final_tokens = records.back()["num_tokens"].get<double>();
  // The targets are gone now: look back over the last minute rather than at "now".
  std::vector<std::pair<nlohmann::json, double>> steps;
  for (int attempt = 0; attempt < 30 && steps.size() < 2; ++attempt) {
    steps = Query(prometheus_port, "max_over_time(dpo_train_steps_total[2m])");
    if (steps.size() < 2) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_EQ(steps.size(), 2u) << ReadFile(work.File("prometheus.log"));
  std::set<std::string> ranks_seen;
  for (const auto& [labels, value] : steps) {
    EXPECT_EQ(labels["job"], "dpo-train");
    ranks_seen.insert(labels["rank"].get<std::string>());
    EXPECT_EQ(value, 6) << labels.dump();
  }
  EXPECT_EQ(ranks_seen, (std::set<std::string>{"0", "1"}));
  for (const auto& [labels, value] : Query(prometheus_port, "max_over_time(dpo_train_tokens_total[2m])")) {
    EXPECT_EQ(value, final_tokens) << labels.dump();
  }
  const auto loss = Query(prometheus_port, "last_over_time(dpo_train_loss{rank=\"0\"}[2m])");
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_NEAR(loss[0].second, records.back()["loss"].get<double>(), 1e-6);
  EXPECT_EQ(Query(prometheus_port, "max_over_time(dpo_build_info[2m])").size(), 2u);

  const auto scores = Query(prometheus_port, "max_over_time(dpo_reference_requests_total{method=\"Score\",code=\"OK\"}[2m])");
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_EQ(scores[0].first["job"], "dpo-reference");
  EXPECT_GE(scores[0].second, 12);  // 6 steps x 2 ranks, at least one Score call each
  const auto misses = Query(prometheus_port, "max_over_time(dpo_reference_cache_misses_total[2m])");
  ASSERT_EQ(misses.size(), 1u);
  EXPECT_GT(misses[0].second, 0);
  EXPECT_EQ(Query(prometheus_port, "max_over_time(dpo_reference_batch_tokens_count[2m])").size(), 1u);
}

}  // namespace
}  // namespace dpo::testing
