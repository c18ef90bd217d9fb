// What dpo-train refuses about its output directory and its inputs before training: a directory
// it cannot write, an older run that output.resume=never would leave behind for a later resume
// to pick up, data or a reference changed since the checkpoint it resumes; and that no stale
// rejects list survives a run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/common/file_io.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

const char* kFourSteps = "  max_steps: 4\n";
const char* kSaveEveryTwo = "  save_steps: 2\n";

ProcessResult Train(const TrainJob& job, const std::vector<std::string>& args = {}, const std::string& fault = "") {
  std::vector<std::string> env = SingleThreadEnv();
  if (!fault.empty()) env.push_back("DPO_FAULT_INJECT=" + fault);
  return RunProcess(job.Command(args), env);
}

TEST(OutputGuard, AnOutputDirectoryThatCannotBeCreatedExitsWith2NamingIt) {
  TrainJob job(48, kFourSteps);
  std::ofstream(job.dir() + "/a-file") << "not a directory";
  const ProcessResult result = Train(job, {"--set", "output.dir=" + job.dir() + "/a-file/output"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("output.dir=" + job.dir() + "/a-file/output: cannot create it"), std::string::npos)
      << result.output;
}

TEST(OutputGuard, ResumeNeverRefusesADirectoryHoldingARunUnlessToldToOverwriteIt) {
  TrainJob job(48, kFourSteps, kSaveEveryTwo);
  ASSERT_EQ(Train(job).exit_code, 0);
  const ProcessResult refused = Train(job, {"--set", "output.resume=never", "--set", "training.max_steps=2"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("already holds a run (step-2, step-4, latest, final)"), std::string::npos)
      << refused.output;
  EXPECT_TRUE(std::filesystem::exists(job.output_dir() + "/step-4")) << "a refused run deleted nothing";

  const ProcessResult overwritten = Train(
      job, {"--set", "output.resume=never", "--set", "output.overwrite=true", "--set", "training.max_steps=2"});
  ASSERT_EQ(overwritten.exit_code, 0) << overwritten.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/step-4")) << "the old run's checkpoint is gone";
  EXPECT_EQ(ReadFile(job.output_dir() + "/latest"), "step-2\n");
  EXPECT_EQ(job.Metrics().size(), 2u);  // this run's steps only
}

TEST(OutputGuard, DataChangedSinceTheCheckpointExitsWith2UnlessAccepted) {
  TrainJob job(48, kFourSteps, kSaveEveryTwo);
  ASSERT_NE(Train(job, {}, "rank0.kill:3").exit_code, 0);
  ASSERT_TRUE(std::filesystem::exists(job.output_dir() + "/step-2"));
  std::ofstream(job.dir() + "/train.jsonl", std::ios::app)
      << R"({"prompt": "Q: one more\nA:", "chosen": " a kind answer", "rejected": " go away"})" << "\n";

  const ProcessResult refused = Train(job);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("data.train=" + job.dir() + "/train.jsonl changed since " + job.output_dir() + "/step-2"),
            std::string::npos)
      << refused.output;
  const ProcessResult accepted = Train(job, {"--set", "output.resume_with_changed_data=true"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.output;
  EXPECT_NE(accepted.output.find("resumed from " + job.output_dir() + "/step-2 at step 2"), std::string::npos)
      << accepted.output;
}

// The reference is part of what a checkpoint was trained against: the same reference.model
// path holding another model is refused on resume (exit 2: a setting to correct).
TEST(OutputGuard, AnotherReferenceModelOnResumeExitsWith2) {
  TrainJob first(48, kFourSteps), second(48, "  max_steps: 4\n  weight_decay: 0.5\n");
  ASSERT_EQ(Train(first).exit_code, 0);
  ASSERT_EQ(Train(second).exit_code, 0);
  TrainJob job(48, kFourSteps, kSaveEveryTwo);
  const std::string reference = job.dir() + "/reference";
  namespace fs = std::filesystem;
  fs::copy(first.output_dir() + "/final", reference);
  ASSERT_NE(Train(job, {"--set", "reference.model=" + reference}, "rank0.kill:3").exit_code, 0);

  fs::remove_all(reference);
  fs::copy(second.output_dir() + "/final", reference);
  const ProcessResult refused = Train(job, {"--set", "reference.model=" + reference});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find(job.output_dir() + "/step-2 was trained against the reference model with fingerprint "),
            std::string::npos)
      << refused.output;
}

TEST(OutputGuard, AnEarlierRunsRejectsListIsReplaced) {
  TrainJob job(48, kFourSteps);
  std::filesystem::create_directories(job.output_dir());
  std::ofstream(job.output_dir() + "/rejects.jsonl") << R"({"file":"old.jsonl","line":3,"reason":"stale"})" << "\n";
  ASSERT_EQ(Train(job).exit_code, 0);
  EXPECT_EQ(ReadFile(job.output_dir() + "/rejects.jsonl"), "") << "this run rejected no row";
}

}  // namespace
}  // namespace dpo::testing
