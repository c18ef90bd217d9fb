// dpo-train with training.device=cuda: float32 on the GPU matches the CPU run closely; bf16
// autocast trains (finite, decreasing loss) and writes a loadable float32 model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

class CudaTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  }
};

TEST_F(CudaTrainingTest, Float32OnTheGpuMatchesTheCpu) {
  TrainJob cpu(48, "  max_steps: 6\n");
  TrainJob gpu(48, "  max_steps: 6\n  device: cuda\n");
  ASSERT_EQ(RunProcess(cpu.Command(), SingleThreadEnv()).exit_code, 0);
  const ProcessResult result = RunProcess(gpu.Command(), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto a = cpu.Metrics();
  const auto b = gpu.Metrics();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i]["loss"].get<double>(), a[i]["loss"].get<double>(), 1e-3) << "step " << i + 1;
  }
}

TEST_F(CudaTrainingTest, Bfloat16AutocastTrainsAndSavesFloat32Weights) {
  TrainJob job(48, "  max_steps: 12\n  device: cuda\n  mixed_precision: bf16\n");
  const ProcessResult result = RunProcess(job.Command({"--set", "training.learning_rate=0.003"}), SingleThreadEnv());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto metrics = job.Metrics();
  ASSERT_EQ(metrics.size(), 12u);
  for (const auto& record : metrics) EXPECT_TRUE(std::isfinite(record["loss"].get<double>()));
  EXPECT_LT(metrics.back()["loss"].get<double>(), metrics.front()["loss"].get<double>());
  EXPECT_NE(job.FinalWeights().find("\"F32\""), std::string::npos);
}

}  // namespace
}  // namespace dpo::testing
