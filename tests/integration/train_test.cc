// dpo-train end to end: a run's metrics, checkpoints and final model; the step-0 invariant;
// --dry-run and --print-config; config and data errors with exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/common/file_io.h"
#include "core/model/pretrained.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

TEST(TrainEndToEnd, LogsTrlMetricsCheckpointsAndFinalModel) {
  TrainJob job(48, "  max_steps: 8\n", "  save_steps: 4\n");
  const auto result = RunProcess(job.Command(), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto records = job.Metrics();
  ASSERT_EQ(records.size(), 8u);
  // Step 1: the policy equals the reference, so every log-ratio is 0 and the loss is ln 2.
  EXPECT_NEAR(records[0]["loss"].get<double>(), std::log(2.0), 1e-6);
  EXPECT_EQ(records[0]["rewards/margins"].get<double>(), 0.0);
  EXPECT_EQ(records[0]["rewards/accuracies"].get<double>(), 0.0);
  EXPECT_EQ(records[0]["learning_rate"].get<double>(), 0.0);  // warm-up starts at 0, as in HF
  for (const char* key : {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                          "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "grad_norm",
                          "learning_rate", "epoch", "step", "num_tokens", "pairs/s", "tokens/s"}) {
    EXPECT_TRUE(records.back().contains(key)) << key;
  }
  EXPECT_EQ(records.back()["step"], 8);
  EXPECT_LT(records.back()["loss"].get<double>(), records[0]["loss"].get<double>() - 0.05);
  EXPECT_GT(records.back()["rewards/margins"].get<double>(), 0.0);
  EXPECT_GT(records.back()["num_tokens"].get<int64_t>(), records[0]["num_tokens"].get<int64_t>());
  EXPECT_DOUBLE_EQ(records[5]["epoch"].get<double>(), 1.0);  // 48 pairs / 8 per step

  EXPECT_TRUE(std::filesystem::is_directory(job.output_dir() + "/step-4"));
  EXPECT_TRUE(std::filesystem::is_directory(job.output_dir() + "/step-8"));
  EXPECT_EQ(ReadFile(job.output_dir() + "/latest"), "step-8\n");
  const auto final_model = LoadModelDirectory(job.output_dir() + "/final");
  EXPECT_EQ(final_model->config().hidden_size, 32);
  EXPECT_EQ(job.FinalWeights(), ReadFile(job.output_dir() + "/step-8/model.safetensors"));
}

TEST(TrainEndToEnd, DryRunPrintsThePlanWithoutTraining) {
  TrainJob job(50);
  const auto result = RunProcess(job.Command({"--dry-run"}), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("50 pairs kept, 0 dropped"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("steps: 18 (6 per epoch)"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(job.output_dir()));  // a dry run writes nothing
}

TEST(TrainEndToEnd, PrintConfigShowsResolvedValuesAndOverrides) {
  TrainJob job;
  const auto result = RunProcess(job.Command({"--print-config", "--set", "training.beta=0.25", "--set",
                                              "training.loss_type=[sigmoid,sft]"}),
                                 SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("beta: 0.25"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("loss_type: [sigmoid, sft]"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("max_consecutive_skipped_steps: 5"), std::string::npos) << result.output;
}

TEST(TrainEndToEnd, ConfigErrorsListEveryProblemAndExit2) {
  TrainJob job;
  const auto result = RunProcess(job.Command({"--set", "training.betaa=1", "--set", "training.learning_rate=fast",
                                              "--set", "output.save_steps=-2"}),
                                 SingleThreadEnv());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("training.betaa: unknown key"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("training.learning_rate: expected a finite number, found \"fast\""), std::string::npos)
      << result.output;
  const auto values = RunProcess(job.Command({"--set", "training.beta=0", "--set", "output.save_steps=-2"}),
                                 SingleThreadEnv());
  EXPECT_EQ(values.exit_code, 2) << values.output;
  EXPECT_NE(values.output.find("(2 problems)"), std::string::npos) << values.output;
  EXPECT_NE(values.output.find("training.beta=0 must be > 0"), std::string::npos) << values.output;
  EXPECT_NE(values.output.find("output.save_steps=-2 must be >= 0"), std::string::npos) << values.output;
}

TEST(TrainEndToEnd, BadRowsStopTheRunOrAreSkippedAndRecorded) {
  TrainJob job(24, "  max_steps: 2\n");
  {
    std::ofstream data(job.dir() + "/train.jsonl", std::ios::app);
    data << "{\"prompt\": \"Q\", \"chosen\": 5, \"rejected\": \"x\"}\n";
  }
  const auto stopped = RunProcess(job.Command(), SingleThreadEnv());
  EXPECT_EQ(stopped.exit_code, 2) << stopped.output;
  EXPECT_NE(stopped.output.find("train.jsonl:25: field \"chosen\": expected a string, found number"), std::string::npos)
      << stopped.output;

  const auto skipped = RunProcess(job.Command({"--set", "data.on_bad_row=skip"}), SingleThreadEnv());
  ASSERT_EQ(skipped.exit_code, 0) << skipped.output;
  const std::string rejects = ReadFile(job.output_dir() + "/rejects.jsonl");
  EXPECT_NE(rejects.find("\"line\":25"), std::string::npos) << rejects;
  EXPECT_NE(skipped.output.find("1 of 25 rows skipped or dropped"), std::string::npos) << skipped.output;
}

TEST(TrainEndToEnd, NonFiniteStepsAreSkippedCountedAndStopTheRunWhenConsecutive) {
  TrainJob job(48, "  max_steps: 10\n  max_consecutive_skipped_steps: 3\n  max_grad_norm: 0\n");
  // A learning rate this large overflows the weights after the first update.
  const auto result = RunProcess(job.Command({"--set", "training.learning_rate=1e30", "--set", "training.warmup_steps=0"}),
                                 SingleThreadEnv());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("update skipped"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("3 consecutive steps had a non-finite loss or gradient "
                               "(training.max_consecutive_skipped_steps=3)"),
            std::string::npos)
      << result.output;
  const auto records = job.Metrics();
  ASSERT_GE(records.size(), 3u);
  EXPECT_EQ(records.back()["skipped_steps"].get<int64_t>(), 2);  // the third skip stops before logging
}

}  // namespace
}  // namespace dpo::testing
