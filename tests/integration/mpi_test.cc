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
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {


// `mpirun -np <ranks>` with the flags a 2-core test machine needs, then `programs` (MPMD
// programs are separated by ":" inside it).
std::vector<std::string> Mpirun(int ranks, const std::vector<std::string>& program) {
  std::vector<std::string> command = {DPO_MPIEXEC, "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS",
                                      "-x", "OPENBLAS_NUM_THREADS", "-x", "DPO_FAULT_INJECT"};
  if (geteuid() == 0) command.push_back("--allow-run-as-root");
  command.insert(command.end(), {"-np", std::to_string(ranks)});
  command.insert(command.end(), program.begin(), program.end());
  return command;
}

std::vector<std::string> Env(const std::string& fault = "") {
  std::vector<std::string> env = SingleThreadEnv();
  env.push_back("DPO_FAULT_INJECT=" + fault);
  return env;
}

// Largest |a - b| / max|a| over the tensors of two final models.
double MaxRelativeDifference(const std::string& a_dir, const std::string& b_dir) {
  const auto a = LoadModelDirectory(a_dir)->HfStateDict();
  const auto b = LoadModelDirectory(b_dir)->HfStateDict();
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double scale = std::max(1e-12, a[i].tensor.abs().max().item<double>());
    worst = std::max(worst, (a[i].tensor - b[i].tensor).abs().max().item<double>() / scale);
  }
  return worst;
}

const char* kSixSteps = "  max_steps: 6\n";

TEST(MpiTrainingTest, TwoRanksComputeWhatOneRankComputesWithTheSameGlobalBatch) {
  // One rank: 4 pairs x 2 accumulation; two ranks: 4 pairs x 1 accumulation each. Global batch 8.
  TrainJob one(48, kSixSteps);
  TrainJob two(48, kSixSteps);
  const ProcessResult single = RunProcess(one.Command(), SingleThreadEnv());
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const ProcessResult pair =
      RunProcess(Mpirun(2, two.Command({"--set", "training.gradient_accumulation_steps=1"})), Env());
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
  const ProcessResult a = RunProcess(Mpirun(2, after.Command(after_args)), Env());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const ProcessResult b = RunProcess(Mpirun(2, overlapped.Command(overlapped_args)), Env());
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
      RunProcess(Mpirun(2, job.Command({"--set", "training.gradient_accumulation_steps=1"})), Env("rank1.throw:3"), 120);
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
      Env("rank1.hang:2"), 120);
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
  const ProcessResult result = RunProcess(Mpirun(1, programs), Env(), 120);
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
      RunProcess(Mpirun(2, job.Command({"--set", "training.gradient_accumulation_steps=1"})), Env("rank0.kill:4"), 120);
  ASSERT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(std::filesystem::exists(job.output_dir() + "/step-2"));
  ASSERT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));

  // Another global batch (2 ranks x 4 x 2 = 16) cannot continue the same data order.
  const ProcessResult refused = RunProcess(Mpirun(2, job.Command()), Env(), 120);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("re-shards exactly only for the same global batch"), std::string::npos) << refused.output;

  const ProcessResult resumed = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("re-sharding"), std::string::npos) << resumed.output;
  const auto a = reference.Metrics();
  const auto b = job.Metrics();
  ASSERT_EQ(a.size(), 6u);
  ASSERT_GE(b.size(), 6u);
  // metrics.jsonl holds each step once: the lines after the checkpoint were rolled back.
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i]["loss"].get<double>(), a[i]["loss"].get<double>(), 1e-6) << "step " << i + 1;
  }
  EXPECT_LT(MaxRelativeDifference(reference.output_dir() + "/final", job.output_dir() + "/final"), 1e-5);
}

}  // namespace
}  // namespace dpo::testing
