// Sharded data parallelism (distributed.zero_stage 1 and 2) under mpirun with 2 and 3 ranks:
// the same trajectory as stage 0, 1/N of the optimizer state per rank, bit-exact resume after a
// kill -9, resume at another world size and stage, a missing shard, a stage that does not exist.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "core/common/file_io.h"
#include "tests/integration/mpi_job.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

// 10 steps with clipping that acts at every step (norms are ~1-3) and weight decay; small
// buckets so that parameters straddle the ranks' segments.
const char* kTraining = "  max_steps: 10\n  max_grad_norm: 0.05\n  weight_decay: 0.05\n";
const char* kSaveEveryTwo = "  save_steps: 2\n";

// --set flags for a global batch of 12 pairs, per_device_batch_size x accumulation x ranks:
// 3 x 4 x 1, 3 x 2 x 2 or 2 x 2 x 3.
std::vector<std::string> Settings(int ranks, int stage) {
  const int per_device = ranks == 3 ? 2 : 3;
  const int accumulation = 12 / (per_device * ranks);
  return {"--set", "distributed.zero_stage=" + std::to_string(stage),
          "--set", "distributed.bucket_mb=0.02",
          "--set", "training.per_device_batch_size=" + std::to_string(per_device),
          "--set", "training.gradient_accumulation_steps=" + std::to_string(accumulation)};
}

ProcessResult Train(const TrainJob& job, int ranks, int stage, const std::string& fault = "") {
  const auto command = job.Command(Settings(ranks, stage));
  return ranks == 1 && fault.empty() ? RunProcess(command, SingleThreadEnv(), 300)
                                     : RunProcess(Mpirun(ranks, command), MpiEnv(fault), 300);
}

// The bytes of AdamW state and of gradients rank 0 reported holding.
struct RankMemory {
  int64_t state = -1;
  int64_t gradients = -1;
};
RankMemory ReportedMemory(const std::string& output) {
  std::smatch match;
  const std::regex line("rank 0 holds (\\d+) bytes of AdamW state and (\\d+) bytes of gradients");
  EXPECT_TRUE(std::regex_search(output, match, line)) << output;
  return match.empty() ? RankMemory{} : RankMemory{std::stoll(match[1]), std::stoll(match[2])};
}

// Every step's metrics agree within 1e-6 x max(1, |value|).
void ExpectSameTrajectory(const std::vector<nlohmann::json>& a, const std::vector<nlohmann::json>& b,
                          const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* key : {"loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins",
                            "rewards/accuracies", "logps/chosen", "logps/rejected"}) {
      const double x = a[i][key].get<double>(), y = b[i][key].get<double>();
      EXPECT_NEAR(y, x, 1e-6 * std::max(1.0, std::abs(x))) << what << ", step " << i + 1 << ", " << key;
    }
  }
}

class ZeroStagesTest : public ::testing::TestWithParam<int> {};

TEST_P(ZeroStagesTest, StagesOneAndTwoFollowStageZerosTrajectoryWithAnNthOfTheState) {
  const int ranks = GetParam();
  std::vector<std::vector<nlohmann::json>> metrics;
  std::vector<RankMemory> memory;
  std::vector<StepMemory> peaks;  // rank 0's measured step peak and the memory model's total
  std::vector<std::unique_ptr<TrainJob>> jobs;
  for (int stage = 0; stage <= 2; ++stage) {
    jobs.push_back(std::make_unique<TrainJob>(48, kTraining));
    const ProcessResult result = Train(*jobs.back(), ranks, stage);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    metrics.push_back(jobs.back()->Metrics());
    memory.push_back(ReportedMemory(result.output));
    peaks.push_back(ParseStepMemory(result.output));
  }
  ASSERT_EQ(metrics[0].size(), 10u);
  for (const auto& step : metrics[0]) EXPECT_GT(step["grad_norm"].get<double>(), 0.05);  // clipping acted
  EXPECT_NE(metrics[0].front()["loss"], metrics[0].back()["loss"]);                       // it trained
  for (int stage = 1; stage <= 2; ++stage) {
    const std::string what = "stage " + std::to_string(stage) + " at " + std::to_string(ranks) + " ranks";
    ExpectSameTrajectory(metrics[0], metrics[stage], what);
    EXPECT_LE(MaxAbsoluteDifference(jobs[0]->output_dir() + "/final", jobs[stage]->output_dir() + "/final"), 1e-6) << what;
    const double share = static_cast<double>(memory[stage].state) / static_cast<double>(memory[0].state);
    std::cout << what << ": rank 0 holds " << memory[stage].state << " of " << memory[0].state
              << " bytes of AdamW state (" << share << " of stage 0's) and " << memory[stage].gradients << " of "
              << memory[0].gradients << " bytes of gradients\n";
    EXPECT_NEAR(share, 1.0 / ranks, 0.01) << what;
  }
  // Stage 1 keeps a full gradient; stage 2 its shard (as large as one AdamW moment of its
  // segments) and the reduce-scatter buffers in flight. At this scale those buffers (two of the
  // largest bucket, the 33 KB embedding) can outweigh the saving; the memory model counts them.
  EXPECT_GE(memory[1].gradients, memory[0].gradients);
  EXPECT_GE(memory[2].gradients, memory[2].state / 2);
  // The memory model follows each stage's measured peak; sharding lowers the peak.
  for (int stage = 0; stage <= 2; ++stage) {
    ASSERT_GT(peaks[stage].measured, 0) << "stage " << stage;
    const double ratio = static_cast<double>(peaks[stage].modelled) / static_cast<double>(peaks[stage].measured);
    std::cout << "stage " << stage << " at " << ranks << " ranks: step peak " << peaks[stage].measured
              << " bytes measured, " << peaks[stage].modelled << " modelled (" << ratio << ")\n";
    EXPECT_NEAR(ratio, 1.0, 0.10) << "stage " << stage;
  }
  EXPECT_LT(peaks[1].measured, peaks[0].measured);
  EXPECT_LT(peaks[2].measured, peaks[0].measured);
}

INSTANTIATE_TEST_SUITE_P(Ranks, ZeroStagesTest, ::testing::Values(2, 3));

// Reruns an interrupted 2-rank stage-2 job: it must resume from step-<step> and end with the
// uninterrupted run's weights, bit for bit. Returns the rerun for further checks.
ProcessResult ExpectRerunResumesToTheSameWeights(const TrainJob& job, const TrainJob& straight, int step) {
  const ProcessResult rerun = Train(job, 2, 2);
  EXPECT_EQ(rerun.exit_code, 0) << rerun.output;
  const std::string checkpoint = job.output_dir() + "/step-" + std::to_string(step);
  EXPECT_NE(rerun.output.find("resumed from " + checkpoint + " at step " + std::to_string(step)), std::string::npos)
      << rerun.output;
  if (rerun.exit_code == 0) EXPECT_EQ(job.FinalWeights(), straight.FinalWeights());
  return rerun;
}

TEST(ZeroResumeTest, AKilledRankThenARerunReproducesTheUninterruptedRunBitForBit) {
  TrainJob straight(48, kTraining, kSaveEveryTwo);
  ASSERT_EQ(Train(straight, 2, 2).exit_code, 0);

  TrainJob interrupted(48, kTraining, kSaveEveryTwo);
  const ProcessResult killed = Train(interrupted, 2, 2, "rank1.kill:5");
  ASSERT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(std::filesystem::exists(interrupted.output_dir() + "/step-4/optimizer-shard-00001-of-00002.pt"));
  ASSERT_FALSE(std::filesystem::exists(interrupted.output_dir() + "/final"));
  ASSERT_EQ(ExpectRerunResumesToTheSameWeights(interrupted, straight, 4).exit_code, 0);
  const auto a = straight.Metrics(), b = interrupted.Metrics();
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(b[i]["loss"], a[i]["loss"]) << "step " << i + 1;
}

// A reference that fails on one rank: every rank agrees on it, takes part in the checkpoint of
// the last completed step (both optimizer shards) and only then does the job end, with code 3;
// a rerun continues from that checkpoint to the uninterrupted run's weights.
TEST(ZeroResumeTest, AReferenceFailureOnOneRankCheckpointsOnEveryRankThenExitsWithCode3) {
  TrainJob straight(48, kTraining, kSaveEveryTwo);
  ASSERT_EQ(Train(straight, 2, 2).exit_code, 0);

  TrainJob job(48, kTraining, kSaveEveryTwo);
  const ProcessResult failed = Train(job, 2, 2, "rank1.reference.unavailable:6");
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_NE(failed.output.find("injected fault at rank1.reference.unavailable:6"), std::string::npos) << failed.output;
  for (const char* shard : {"optimizer-shard-00000-of-00002.pt", "optimizer-shard-00001-of-00002.pt"}) {
    EXPECT_TRUE(std::filesystem::exists(job.output_dir() + "/step-5/" + shard)) << shard;
  }
  EXPECT_EQ(ReadFile(job.output_dir() + "/latest"), "step-5\n");
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/final"));

  ExpectRerunResumesToTheSameWeights(job, straight, 5);
}

TEST(ZeroResumeTest, AMissingShardFallsBackToThePreviousCheckpoint) {
  TrainJob straight(48, kTraining, kSaveEveryTwo);
  ASSERT_EQ(Train(straight, 2, 2).exit_code, 0);

  TrainJob job(48, kTraining, kSaveEveryTwo);
  ASSERT_NE(Train(job, 2, 2, "rank0.kill:5").exit_code, 0);
  const std::string shard = job.output_dir() + "/step-4/optimizer-shard-00001-of-00002.pt";
  ASSERT_TRUE(std::filesystem::remove(shard));
  const ProcessResult rerun = ExpectRerunResumesToTheSameWeights(job, straight, 2);
  EXPECT_NE(rerun.output.find("skipping invalid checkpoint " + job.output_dir() + "/step-4: " + shard + ": missing"),
            std::string::npos)
      << rerun.output;
}

TEST(ZeroResumeTest, ResumesAcrossWorldSizesAndStagesWithTheSameGlobalBatch) {
  TrainJob straight(48, kTraining, kSaveEveryTwo);
  ASSERT_EQ(Train(straight, 1, 0).exit_code, 0);

  // (ranks, stage, the step at which rank 0 is killed; 0: run to the end). Each leg resumes the
  // previous leg's last checkpoint: 2 -> 3 -> 1 -> 2 ranks, stage 2 -> 1 -> 0 -> 2.
  const std::vector<std::tuple<int, int, int>> legs = {{2, 2, 3}, {3, 1, 5}, {1, 0, 7}, {2, 2, 0}};
  TrainJob job(48, kTraining, kSaveEveryTwo);
  for (const auto& [ranks, stage, kill_at] : legs) {
    const std::string leg = std::to_string(ranks) + " ranks, stage " + std::to_string(stage);
    const ProcessResult result = Train(job, ranks, stage, kill_at > 0 ? "rank0.kill:" + std::to_string(kill_at) : "");
    if (kill_at > 0) {
      ASSERT_NE(result.exit_code, 0) << leg << "\n" << result.output;
      ASSERT_TRUE(std::filesystem::exists(job.output_dir() + "/step-" + std::to_string(kill_at - 1))) << leg;
    } else {
      ASSERT_EQ(result.exit_code, 0) << leg << "\n" << result.output;
    }
  }
  ExpectSameTrajectory(straight.Metrics(), job.Metrics(), "resumed across world sizes");
  EXPECT_LE(MaxAbsoluteDifference(straight.output_dir() + "/final", job.output_dir() + "/final"), 1e-6);
}

TEST(ZeroResumeTest, AShardThatCannotBeWrittenCommitsNothingOnAnyRank) {
  TrainJob job(48, kTraining, kSaveEveryTwo);
  const ProcessResult result = Train(job, 2, 2, "checkpoint.rank1.throw:4");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("checkpoint at step 4 not committed: optimizer state could not be written:\n"
                               "  rank 1: injected fault at checkpoint.rank1.throw:4"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(dpo::ReadFile(job.output_dir() + "/latest"), "step-2\n");
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/step-4"));
  for (const auto& entry : std::filesystem::directory_iterator(job.output_dir())) {
    EXPECT_EQ(entry.path().filename().string().rfind(".tmp", 0), std::string::npos) << entry.path();  // no debris
  }
  EXPECT_EQ(ProcessesMentioning(job.dir()), std::vector<std::string>{});
}

TEST(ZeroConfigTest, AStageThatDoesNotExistEndsEveryRankWithExitCode2BeforeTraining) {
  TrainJob job(48, kTraining);
  auto settings = Settings(2, 0);
  settings.insert(settings.end(), {"--set", "distributed.zero_stage=3"});
  const ProcessResult result = RunProcess(Mpirun(2, job.Command(settings)), MpiEnv(), 120);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("distributed.zero_stage=3 must be 0, 1 or 2"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir() + "/metrics.jsonl"));
}

}  // namespace
}  // namespace dpo::testing
