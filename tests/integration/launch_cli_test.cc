// dpo-launch without MPI ranks: --dry-run prints the plan and starts nothing; jobs it cannot
// run are refused with exit 2; a reference server that is not serving in time gives exit 3 and
// is stopped.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/launch_fixture.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

TEST(LaunchCommandLine, DryRunPrintsThePlanAndStartsNothing) {
  const LaunchJob launch(8, "  max_steps: 2\n");
  const TrainJob& job = launch.job();
  const auto result = RunProcess(
      launch.Command({"--nproc", "2", "--dry-run", "--set", "reference.mode=server", "--", "--tag-output"}),
      SingleThreadEnv(), 60);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string& out = result.output;
  EXPECT_NE(out.find("ranks:      2"), std::string::npos) << out;
  EXPECT_NE(out.find("reference:  server started by dpo-launch on 127.0.0.1"), std::string::npos) << out;
  EXPECT_NE(out.find(BinaryPath("dpo-reference-server") + " --model "), std::string::npos) << out;
  EXPECT_NE(out.find(" --listen 127.0.0.1:0 --cache-dir " + job.output_dir() + "/reference-cache\n"),
            std::string::npos) << out;
  EXPECT_NE(out.find("-np 2 --tag-output " + BinaryPath("dpo-train") + " --config " + job.config_path() +
                     " --set reference.mode=server --set 'reference.address=<reference-server-address>'"
                     " --set 'reference.fingerprint=<reference-server-fingerprint>'\n"),
            std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir())) << "a dry run writes nothing";
}

TEST(LaunchCommandLine, JobsItCannotRunExitWith2) {
  const LaunchJob launch(8, "  max_steps: 2\n");
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--set", "reference.mode=server", "--set", "model.init=random"}, "set reference.model to a model directory"},
      {{"--nproc", "0"}, "--nproc 0 must be >= 1"},
      {{"--set", "training.colour=blue"}, "training.colour"},
  };
  for (const auto& c : cases) {
    const auto result = RunProcess(launch.Command(c.args), SingleThreadEnv(), 60);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << result.output;
  }
}

TEST(LaunchCommandLine, ReferenceServerNotServingInTimeExits3AndIsStopped) {
  const LaunchJob launch(8, "  max_steps: 2\n");
  const auto result = RunProcess(
      launch.Command({"--set", "reference.mode=server", "--reference-timeout", "0.001"}), SingleThreadEnv(), 60);
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("was not serving within 0.001 s (--reference-timeout)"), std::string::npos)
      << result.output;
  EXPECT_EQ(ProcessesMentioning(launch.job().dir()).size(), 0u);
}

}  // namespace
}  // namespace dpo::testing
