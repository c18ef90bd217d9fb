// dpo-launch end to end with 2 MPI ranks and the reference server it starts: the job completes
// and nothing is left running; SIGTERM to the launcher stops every rank at a step boundary with
// a checkpoint, stops the server, and exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "core/common/file_io.h"
#include "tests/integration/launch_fixture.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

const std::vector<std::string> kTwoRanksWithServer = {"--nproc", "2", "--set", "reference.mode=server"};

std::string Joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

TEST(Launch, TwoRanksWithAStartedReferenceServerCompleteAndLeaveNothingRunning) {
  const LaunchJob launch(48, "  max_steps: 4\n");
  const TrainJob& job = launch.job();
  const auto result = RunProcess(launch.Command(kTwoRanksWithServer), SingleThreadEnv(), 300);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(std::filesystem::exists(job.output_dir() + "/final/model.safetensors")) << result.output;
  EXPECT_TRUE(std::filesystem::is_directory(job.output_dir() + "/reference-cache")) << result.output;
  EXPECT_EQ(job.Metrics().back()["step"].get<int64_t>(), 4);
  EXPECT_NE(result.output.find("dpo-launch: reference server serving on 127.0.0.1:"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("dpo-reference-server: drained, cache synced"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("dpo-launch: job finished: exit 0, 2 ranks, "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(" s, output " + job.output_dir() + "\n"), std::string::npos) << result.output;
  EXPECT_EQ(Joined(ProcessesMentioning(job.dir())), "");
}

TEST(Launch, SigtermStopsEveryRankAtAStepBoundaryWithACheckpoint) {
  const LaunchJob launch(48, "  max_steps: 400\n");
  const TrainJob& job = launch.job();
  const std::string log = job.dir() + "/launch.log";
  {
    BackgroundProcess launcher(launch.Command(kTwoRanksWithServer), SingleThreadEnv(), log);
    ASSERT_TRUE(WaitForMetricsRecords(job, 2, 180)) << ReadFile(log);
    launcher.Signal(SIGTERM);
    EXPECT_EQ(launcher.Wait(120), 0) << ReadFile(log);
  }
  const std::string output = ReadFile(log);
  EXPECT_NE(output.find("dpo-launch: signal 15: asking every rank to stop"), std::string::npos) << output;
  EXPECT_NE(output.find("dpo-launch: job stopped by signal 15: exit 0, 2 ranks, "), std::string::npos) << output;
  ASSERT_TRUE(std::filesystem::exists(job.output_dir() + "/latest")) << output;
  const std::string latest = ReadFile(job.output_dir() + "/latest");
  ASSERT_EQ(latest.rfind("step-", 0), 0u) << latest;
  const int64_t stopped_step = std::stoll(latest.substr(5));
  EXPECT_GE(stopped_step, 2);
  EXPECT_LT(stopped_step, 400);
  const std::string checkpoint = job.output_dir() + "/step-" + std::to_string(stopped_step);
  EXPECT_TRUE(std::filesystem::exists(checkpoint + "/model.safetensors")) << checkpoint;
  EXPECT_EQ(job.Metrics().back()["step"].get<int64_t>(), stopped_step);  // every rank stopped at that step
  EXPECT_NE(output.find("dpo-reference-server: drained, cache synced"), std::string::npos) << output;
  EXPECT_EQ(Joined(ProcessesMentioning(job.dir())), "");
}

}  // namespace
}  // namespace dpo::testing
