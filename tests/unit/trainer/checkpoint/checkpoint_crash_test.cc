// Crash safety: a child process saving a checkpoint is SIGKILLed at each fault-injection point;
// the checkpoint saved before it must still be what auto-resume picks, intact.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "tests/unit/trainer/checkpoint/checkpoint_test_util.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/checkpoint_manager.h"
#include "trainer/checkpoint/fault_injection.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

bool HasTempDirectory(const std::string& output) {
  for (const std::string& name : testing::ListNames(output)) {
    if (name.rfind(kTempPrefix, 0) == 0) return true;
  }
  return false;
}

// Forks; the child saves `step` with DPO_FAULT_INJECT=`request` and exits 0 if it survives.
// Returns the child's wait status.
int SaveInChild(const std::string& output, testing::TinySetup& setup, int64_t step, const std::string& request) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    try {
      ::setenv(kFaultInjectEnv, request.c_str(), 1);
      CheckpointManager manager(output, 0, [](const std::string&) {});
      manager.Save(step, *setup.model, *setup.tokenizer, *setup.optimizer, testing::MakeState(step), "job: 2\n");
    } catch (...) {
      code = 3;
    }
    ::_exit(code);  // no gtest teardown or atexit handlers in the child
  }
  EXPECT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "child saving step " << step << " hung";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status;
}

struct CrashCase {
  std::string point;
  bool temp_left_behind;     // the kill leaves a .tmp-step-* directory
  bool new_step_in_place;    // step-2 exists after the kill
};

TEST(CheckpointCrashTest, KillAtEachPointLeavesTheResumableCheckpointIntact) {
  const std::vector<CrashCase> cases = {
      {"checkpoint.after_weights", true, false},
      {"checkpoint.before_rename", true, false},
      {"checkpoint.after_rename", false, true},
  };
  for (const CrashCase& c : cases) {
    SCOPED_TRACE(c.point);
    testing::TempDir temp;
    const std::string output = temp.File("out");
    testing::TinySetup setup = testing::MakeTinySetup(1);
    testing::TrainOneStep(setup, 1);
    {
      CheckpointManager manager(output, 1);
      manager.Save(1, *setup.model, *setup.tokenizer, *setup.optimizer, testing::MakeState(1), "job: 1\n");
    }
    testing::TrainOneStep(setup, 2);

    const int status = SaveInChild(output, setup, 2, c.point + ":2");
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_EQ(HasTempDirectory(output), c.temp_left_behind);
    EXPECT_EQ(fs::exists(output + "/step-2"), c.new_step_in_place);
    EXPECT_EQ(ReadFile(output + "/latest"), "step-1\n");

    std::vector<std::string> warnings;
    CheckpointManager restarted(output, 1, [&](const std::string& m) { warnings.push_back(m); });
    EXPECT_FALSE(HasTempDirectory(output));
    const auto resume = restarted.FindResumeCheckpoint("auto");
    ASSERT_TRUE(resume.has_value());
    EXPECT_TRUE(VerifyCheckpoint(*resume).empty()) << JoinProblems(VerifyCheckpoint(*resume));
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    if (c.new_step_in_place) {
      EXPECT_TRUE(*resume == output + "/step-1" || *resume == output + "/step-2") << *resume;
      EXPECT_TRUE(VerifyCheckpoint(output + "/step-2").empty());
    } else {
      EXPECT_EQ(*resume, output + "/step-1");
    }
    EXPECT_EQ(ReadCheckpointState(*resume).step, *resume == output + "/step-1" ? 1 : 2);
  }
}

TEST(CheckpointCrashTest, OtherStepsAndPointsDoNotFire) {
  testing::TempDir temp;
  const std::string output = temp.File("out");
  testing::TinySetup setup = testing::MakeTinySetup(1);
  // Step 3 while the hook asks for step 2, and an unknown point: the save completes.
  for (const std::string request : {"checkpoint.before_rename:2", "checkpoint.nowhere:3"}) {
    const int status = SaveInChild(output, setup, 3, request);
    ASSERT_TRUE(WIFEXITED(status)) << request << ": status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << request;
    EXPECT_TRUE(VerifyCheckpoint(output + "/step-3").empty()) << request;
  }
}

}  // namespace
}  // namespace dpo
