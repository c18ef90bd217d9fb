// Training against dpo-reference-server (reference.mode=server): the same losses as the
// in-process reference, a server killed and restarted mid-training, a precomputed cache that
// answers every request, and a fingerprint mismatch (exit 3).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/common/file_io.h"
#include "core/model/fingerprint.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/integration/train_job.h"

namespace dpo::testing {
namespace {

// A port that was free a moment ago (for a server that must come back on the same address).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::vector<double> Losses(const TrainJob& job) {
  std::vector<double> losses;
  for (const auto& record : job.Metrics()) losses.push_back(record.at("loss").get<double>());
  return losses;
}

void ExpectSameLosses(const std::vector<double>& remote, const std::vector<double>& local) {
  ASSERT_EQ(remote.size(), local.size());
  for (size_t i = 0; i < local.size(); ++i) EXPECT_NEAR(remote[i], local[i], 1e-6) << "step " << i + 1;
}

class RemoteReferenceTraining : public ::testing::Test {
 protected:
  void SetUp() override { fingerprint_ = ModelFingerprint(*WriteTinyModel(model_dir_.path(), 17), "byte"); }

  std::vector<double> LocalLosses(const std::string& training_extra) {
    TrainJob job(48, training_extra, "", model_dir_.path());
    const auto result = RunProcess(job.Command(), SingleThreadEnv());
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return Losses(job);
  }

  std::vector<std::string> ServerArgs(const std::string& listen) {
    return {"--model", model_dir_.path(), "--cache-dir", cache_dir_.path(), "--listen", listen};
  }

  std::vector<std::string> RemoteArgs(const std::string& address) const {
    return {"--set", "reference.mode=server", "--set", "reference.address=" + address, "--set",
            "reference.fingerprint=" + fingerprint_};
  }

  std::string fingerprint_;  // of the model in model_dir_
  TempDir model_dir_;
  TempDir cache_dir_;
  TempDir logs_;
};

TEST_F(RemoteReferenceTraining, MatchesTheLocalReference) {
  const std::string training = "  max_steps: 12\n";
  const std::vector<double> local = LocalLosses(training);
  ServerProcess server(ServeArgs(model_dir_.path(), cache_dir_.path()), logs_.File("server.log"));
  ASSERT_FALSE(server.address().empty()) << server.Log();
  TrainJob job(48, training, "", model_dir_.path());
  const auto result = RunProcess(job.Command(RemoteArgs(server.address())), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ExpectSameLosses(Losses(job), local);
}

TEST_F(RemoteReferenceTraining, SurvivesAServerRestartMidTraining) {
  const std::string training = "  max_steps: 18\n";
  const std::vector<double> local = LocalLosses(training);
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  TrainJob job(48, training, "", model_dir_.path());
  auto server = std::make_unique<ServerProcess>(ServerArgs(listen), logs_.File("server1.log"));
  ASSERT_FALSE(server->address().empty()) << server->Log();
  BackgroundProcess trainer(job.Command(RemoteArgs(listen)), SingleThreadEnv(), logs_.File("train.log"));
  // Kill the server once training is under way, keep it down for a moment, then restart it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(job.output_dir() + "/metrics.jsonl") ||
         ReadFile(job.output_dir() + "/metrics.jsonl").size() < 10) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << ReadFile(logs_.File("train.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server->process().Signal(SIGKILL);
  server->process().Wait(30);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  server = std::make_unique<ServerProcess>(ServerArgs(listen), logs_.File("server2.log"));
  ASSERT_FALSE(server->address().empty()) << server->Log();
  ASSERT_EQ(trainer.Wait(300), 0) << ReadFile(logs_.File("train.log"));
  ExpectSameLosses(Losses(job), local);
}

TEST_F(RemoteReferenceTraining, PrecomputedCacheAnswersEveryRequest) {
  TrainJob job(48, "  max_steps: 6\n", "", model_dir_.path());
  const auto precompute = RunProcess({BinaryPath("dpo-reference-server"), "precompute", "--model", model_dir_.path(),
                                      "--config", job.config_path(), "--cache-dir", cache_dir_.path()},
                                     SingleThreadEnv());
  ASSERT_EQ(precompute.exit_code, 0) << precompute.output;
  ServerProcess server(ServeArgs(model_dir_.path(), cache_dir_.path()), logs_.File("server.log"));
  ASSERT_FALSE(server.address().empty()) << server.Log();
  const auto result = RunProcess(job.Command(RemoteArgs(server.address())), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(PlainChannel(server.address()), &stats).ok());
  EXPECT_GT(stats.cache().hits(), 0u);
  EXPECT_EQ(stats.cache().misses(), 0u) << "every reference log-prob should come from the precomputed cache";
}

// Another model is a setting to correct, not an outage to wait out: exit 2 at connect.
TEST_F(RemoteReferenceTraining, FingerprintMismatchExitsWith2NamingBoth) {
  ServerProcess server(ServeArgs(model_dir_.path(), cache_dir_.path()), logs_.File("server.log"));
  ASSERT_FALSE(server.address().empty()) << server.Log();
  TrainJob job(48, "  max_steps: 2\n", "", model_dir_.path());
  std::vector<std::string> args = RemoteArgs(server.address());
  args.insert(args.end(), {"--set", "reference.fingerprint=" + std::string(64, 'a')});
  const auto result = RunProcess(job.Command(args), SingleThreadEnv());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("serves a model with fingerprint " + fingerprint_ + ", but reference.fingerprint=" +
                               std::string(64, 'a')),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));
}

// Without a fingerprint a run could train against whatever a server holds: refused before any
// connection, unless the job accepts any model.
TEST_F(RemoteReferenceTraining, NoFingerprintIsRefusedUnlessTheJobAcceptsAnyModel) {
  ServerProcess server(ServeArgs(model_dir_.path(), cache_dir_.path()), logs_.File("server.log"));
  ASSERT_FALSE(server.address().empty()) << server.Log();
  TrainJob job(48, "  max_steps: 2\n", "", model_dir_.path());
  const std::vector<std::string> unpinned = {"--set", "reference.mode=server", "--set", "reference.address=" + server.address()};
  const auto refused = RunProcess(job.Command(unpinned), SingleThreadEnv());
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("reference.fingerprint: required with reference.mode=server"), std::string::npos)
      << refused.output;

  std::vector<std::string> accepting = unpinned;
  accepting.insert(accepting.end(), {"--set", "reference.accept_any_model=true"});
  const auto accepted = RunProcess(job.Command(accepting), SingleThreadEnv());
  EXPECT_EQ(accepted.exit_code, 0) << accepted.output;
}

TEST_F(RemoteReferenceTraining, UnreachableServerStopsWithExit3) {
  TrainJob job(48, "  max_steps: 2\n", "", model_dir_.path());
  std::vector<std::string> args = RemoteArgs("127.0.0.1:" + std::to_string(FreePort()));
  args.insert(args.end(), {"--set", "reference.retry_budget_seconds=1", "--set", "reference.timeout_seconds=0.5"});
  const auto result = RunProcess(job.Command(args), SingleThreadEnv());
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("(reference.retry_budget_seconds)"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace dpo::testing
