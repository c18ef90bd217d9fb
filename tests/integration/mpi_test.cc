// dpo-train under `mpirun --oversubscribe -np 2`: data-parallel equivalence with one rank, a
// failing rank, a hanging rank (watchdog), ranks that disagree on the job, and resume across
// world sizes.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/common/clock.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "tests/integration/mpi_job.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

const char* kSixSteps = "  max_steps: 6\n";

TEST(MpiTrainingTest, TwoRanksComputeWhatOneRankComputesWithTheSameGlobalBatch) {
  // One rank: 4 pairs x 2 accumulation; two ranks: 4 pairs x 1 accumulation each. Global batch 8.
  TrainJob one(48, kSixSteps);
  TrainJob two(48, kSixSteps);
  const ProcessResult single = RunProcess(one.Command(), SingleThreadEnv());
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const ProcessResult pair =
      RunProcess(Mpirun(2, two.Command({"--set", "training.gradient_accumulation_steps=1"})), MpiEnv());
  ASSERT_EQ(pair.exit_code, 0) << pair.output;

  const auto a = one.Metrics();
  const auto b = two.Metrics();
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i]["loss"].get<double>(), a[i]["loss"].get<double>(), 1e-6) << "step " << i + 1;
    EXPECT_NEAR(b[i]["rewards/accuracies"].get<double>(), a[i]["rewards/accuracies"].get<double>(), 1e-6);
    EXPECT_EQ(b[i]["num_tokens"], a[i]["num_tokens"]);  // tokens summed over both ranks
    EXPECT_GE(b[i]["time/grad_sync_s"].get<double>(), 0.0);
  }
  EXPECT_LT(MaxRelativeDifference(one.output_dir() + "/final", two.output_dir() + "/final"), 1e-5);
  EXPECT_NE(a.back()["loss"], a.front()["loss"]);  // it trained
}

TEST(MpiTrainingTest, OverlappingTheAllReduceWithBackwardChangesNothing) {
  // Small buckets (several per model), two micro-batches per step: with overlap the buckets are
  // reduced while the second one runs backward. The sums are the same numbers either way.
  const std::vector<std::string> settings = {"--set", "training.per_device_batch_size=2", "--set",
                                             "distributed.bucket_mb=0.02"};
  TrainJob after(48, kSixSteps);
  TrainJob overlapped(48, kSixSteps);
  auto after_args = settings;
  after_args.insert(after_args.end(), {"--set", "distributed.overlap=false"});
  auto overlapped_args = settings;
  overlapped_args.insert(overlapped_args.end(), {"--set", "distributed.overlap=true"});
  const ProcessResult a = RunProcess(Mpirun(2, after.Command(after_args)), MpiEnv());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const ProcessResult b = RunProcess(Mpirun(2, overlapped.Command(overlapped_args)), MpiEnv());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(after.FinalWeights(), overlapped.FinalWeights());  // bit for bit
  const auto metrics_after = after.Metrics();
  const auto metrics_overlapped = overlapped.Metrics();
  ASSERT_EQ(metrics_overlapped.size(), metrics_after.size());
  for (size_t i = 0; i < metrics_after.size(); ++i) {
    EXPECT_EQ(metrics_overlapped[i]["loss"], metrics_after[i]["loss"]) << "step " << i + 1;
  }
}

TEST(MpiTrainingTest, ARankThatThrowsEndsTheWholeJobNamingTheRank) {
  TrainJob job(48, kSixSteps);
  const auto started = Clock::now();
  const ProcessResult result =
      RunProcess(Mpirun(2, job.Command({"--set", "training.gradient_accumulation_steps=1"})), MpiEnv("rank1.throw:3"), 120);
  const double seconds = SecondsSince(started);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("dpo-train rank 1: internal error: injected fault at rank1.throw:3"), std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 60);
  EXPECT_EQ(ProcessesMentioning(job.dir()), std::vector<std::string>{});
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));
}

TEST(MpiTrainingTest, AHangingRankIsEndedByTheWatchdogWithExitCode4) {
  TrainJob job(48, kSixSteps);
  const auto started = Clock::now();
  const ProcessResult result = RunProcess(
      Mpirun(2, job.Command({"--set", "training.gradient_accumulation_steps=1", "--set", "distributed.timeout_seconds=5"})),
      MpiEnv("rank1.hang:2"), 120);
  const double seconds = SecondsSince(started);
  EXPECT_EQ(result.exit_code, 4) << result.output;
  EXPECT_NE(result.output.find("dpo-train rank 0: timeout: all-reduce"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("at step 2 did not finish within distributed.timeout_seconds=5 s"), std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 60);
  EXPECT_EQ(ProcessesMentioning(job.dir()), std::vector<std::string>{});
}

TEST(MpiTrainingTest, RanksWithDifferentJobsRefuseToStartNamingTheKey) {
  TrainJob job(48, kSixSteps);
  std::vector<std::string> programs = job.Command({"--set", "training.gradient_accumulation_steps=1"});
  programs.insert(programs.end(), {":", "-np", "1"});
  const auto other = job.Command({"--set", "training.gradient_accumulation_steps=1", "--set", "training.learning_rate=0.002"});
  programs.insert(programs.end(), other.begin(), other.end());
  const ProcessResult result = RunProcess(Mpirun(1, programs), MpiEnv(), 120);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("ranks disagree on the job: rank 1 differs from rank 0 at training.learning_rate: 0.002 vs 0.001"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/metrics.jsonl"));
}

TEST(MpiTrainingTest, ResumesOnOneRankFromTwoWhenTheGlobalBatchIsKept) {
  TrainJob reference(48, kSixSteps, "  save_steps: 2\n");
  ASSERT_EQ(RunProcess(reference.Command(), SingleThreadEnv()).exit_code, 0);

  TrainJob job(48, kSixSteps, "  save_steps: 2\n");
  const ProcessResult killed =
      RunProcess(Mpirun(2, job.Command({"--set", "training.gradient_accumulation_steps=1"})), MpiEnv("rank0.kill:4"), 120);
  ASSERT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(std::filesystem::exists(job.output_dir() + "/step-2"));
  ASSERT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));

  // Another global batch (2 ranks x 4 x 2 = 16) cannot continue the same data order.
  const ProcessResult refused = RunProcess(Mpirun(2, job.Command()), MpiEnv(), 120);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("re-shards exactly only for the same global batch"), std::string::npos) << refused.output;

  const ProcessResult resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("re-sharding"), std::string::npos) << resumed.output;
  const auto a = reference.Metrics();
  const auto b = job.Metrics();
  ASSERT_EQ(a.size(), 6u);
  // metrics.jsonl holds each step once, in order: the lines after the checkpoint were rolled back.
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]["step"].get<int64_t>(), static_cast<int64_t>(i + 1));
    EXPECT_NEAR(b[i]["loss"].get<double>(), a[i]["loss"].get<double>(), 1e-6) << "step " << i + 1;
  }
  EXPECT_LT(MaxRelativeDifference(reference.output_dir() + "/final", job.output_dir() + "/final"), 1e-5);
}

}  // namespace
}  // namespace dpo::testing
