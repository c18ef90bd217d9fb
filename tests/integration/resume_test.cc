// Exact resume: a run killed at any point (SIGKILL between steps, in the middle of writing a
// checkpoint, or stopped by SIGTERM) and resumed gives bit-identical losses and final weights.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/common/file_io.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

constexpr const char* kTraining = "";  // the default 3 epochs: 18 steps
constexpr const char* kOutput = "  save_steps: 2\n  save_total_limit: 3\n";

// The deterministic part of each record (timings differ between runs).
std::vector<std::string> Trajectory(const TrainJob& job) {
  std::vector<std::string> lines;
  for (const auto& record : job.Metrics()) {
    nlohmann::json kept;
    for (const char* key : {"step", "loss", "grad_norm", "learning_rate", "rewards/chosen", "rewards/rejected",
                            "logps/chosen", "num_tokens", "epoch"}) {
      kept[key] = record.at(key);
    }
    lines.push_back(kept.dump());
  }
  return lines;
}

struct Baseline {
  std::vector<std::string> trajectory;
  std::string weights;
};

const Baseline& UninterruptedRun() {
  static const Baseline baseline = [] {
    TrainJob job(48, kTraining, kOutput);
    const auto result = RunProcess(job.Command(), SingleThreadEnv());
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return Baseline{Trajectory(job), job.FinalWeights()};
  }();
  return baseline;
}

void ExpectSameAsBaseline(const TrainJob& job) {
  const Baseline& baseline = UninterruptedRun();
  EXPECT_EQ(Trajectory(job), baseline.trajectory);
  EXPECT_TRUE(job.FinalWeights() == baseline.weights) << "final weights differ from the uninterrupted run";
}

class CrashDuringCheckpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashDuringCheckpoint, ResumeIsBitIdentical) {
  ASSERT_EQ(UninterruptedRun().trajectory.size(), 18u);
  TrainJob job(48, kTraining, kOutput);
  std::vector<std::string> env = SingleThreadEnv();
  env.push_back(std::string("DPO_FAULT_INJECT=checkpoint.") + GetParam() + ":6");
  const auto crashed = RunProcess(job.Command(), env);
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));

  const auto resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  // `latest` is the commit point: until it names step-6, the run resumes from step-4.
  EXPECT_NE(resumed.output.find("at step 4"), std::string::npos) << resumed.output;
  ExpectSameAsBaseline(job);
}

INSTANTIATE_TEST_SUITE_P(FaultPoints, CrashDuringCheckpoint,
                         ::testing::Values("after_weights", "before_rename", "after_rename"));

// Waits until metrics.jsonl has at least `records` lines.
bool WaitForRecords(const TrainJob& job, size_t records, double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(job.output_dir() + "/metrics.jsonl")) {
      const std::string text = ReadFile(job.output_dir() + "/metrics.jsonl");
      if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= records) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(Resume, KilledAtArbitraryMomentsThenResumedIsBitIdentical) {
  TrainJob job(48, kTraining, kOutput);
  // Kill twice at different points of the run, then let it finish.
  for (size_t records : {5u, 11u}) {
    BackgroundProcess process(job.Command(), SingleThreadEnv(), job.dir() + "/log.txt");
    ASSERT_TRUE(WaitForRecords(job, records, 120)) << ReadFile(job.dir() + "/log.txt");
    process.Signal(SIGKILL);
    EXPECT_EQ(process.Wait(30), 128 + SIGKILL);
  }
  const auto resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  ExpectSameAsBaseline(job);
}

TEST(Resume, SigtermFinishesTheStepWritesACheckpointAndExitsCleanly) {
  TrainJob job(48, kTraining, kOutput);
  {
    BackgroundProcess process(job.Command(), SingleThreadEnv(), job.dir() + "/log.txt");
    ASSERT_TRUE(WaitForRecords(job, 3, 120));
    process.Signal(SIGTERM);
    EXPECT_EQ(process.Wait(60), 0) << ReadFile(job.dir() + "/log.txt");
  }
  const std::string log = ReadFile(job.dir() + "/log.txt");
  EXPECT_NE(log.find("stopped by signal 15"), std::string::npos) << log;
  const std::string latest = ReadFile(job.output_dir() + "/latest");
  const int64_t stopped_step = std::stoll(latest.substr(5));
  EXPECT_GE(stopped_step, 3);
  EXPECT_EQ(job.Metrics().back()["step"].get<int64_t>(), stopped_step);  // checkpoint at the step it stopped

  const auto resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  ExpectSameAsBaseline(job);
}

TEST(Resume, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  TrainJob job(48, kTraining, kOutput);
  std::vector<std::string> env = SingleThreadEnv();
  env.push_back("DPO_FAULT_INJECT=checkpoint.after_weights:8");
  ASSERT_EQ(RunProcess(job.Command(), env).exit_code, 128 + SIGKILL);
  // Flip one byte of the newest complete checkpoint's weights.
  const std::string weights = job.output_dir() + "/step-6/model.safetensors";
  std::string bytes = ReadFile(weights);
  bytes[bytes.size() / 2] ^= 0x5A;
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes;

  const auto resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("model.safetensors"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("at step 4"), std::string::npos) << resumed.output;
  ExpectSameAsBaseline(job);
}

}  // namespace
}  // namespace dpo::testing
