// The data-parallel optimizers on one rank: the sharded one (stages 1 and 2) computes what the
// replicated one (stage 0) computes, and each reads the other's checkpoint files. Several ranks
// are tested under MPI in tests/integration/zero_test.cc.
#include "trainer/zero/data_parallel_optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/common/error.h"
#include "tests/support/test_support.h"
#include "trainer/comm/communicator.h"
#include "trainer/zero/sharded_optimizer.h"

namespace dpo {
namespace {

// A matrix, a vector and an embedding-like table: decayed and exempt parameters, several
// buckets at 64 bytes (16 floats), parameters that straddle buckets' segments.
std::vector<at::Tensor> MakeParameters() {
  torch::manual_seed(5);
  return {torch::randn({4, 6}, torch::requires_grad()), torch::randn({7}, torch::requires_grad()),
          torch::randn({3, 5}, torch::requires_grad())};
}

DataParallelOptions Options(int stage) {
  DataParallelOptions options;
  options.zero_stage = stage;
  options.bucket_bytes = 64;
  options.learning_rate = 1e-2;
  options.weight_decay = 0.1;
  return options;
}

// Gradients of a fixed quadratic loss at the current parameters, accumulated into .grad.
void Backward(const std::vector<at::Tensor>& parameters, int seed) {
  torch::manual_seed(seed);
  at::Tensor loss = torch::zeros({});
  for (const auto& p : parameters) loss = loss + (p * torch::randn_like(p)).sum() + 0.5 * (p * p).sum();
  loss.backward();
}

// Runs updates first_step .. first_step + steps - 1 (each with its own gradients), clipping at
// `max_norm`; returns the norms.
std::vector<double> Train(DataParallelOptimizer& optimizer, const std::vector<at::Tensor>& parameters, int steps,
                          double max_norm, int first_step = 0) {
  std::vector<double> norms;
  for (int step = 0; step < steps; ++step) {
    // Two micro-batches: gradients accumulate (stage 2: reduced shards accumulate).
    for (int micro = 0; micro < 2; ++micro) {
      optimizer.BeginMicroBatch(micro == 1);
      Backward(parameters, 10 * (first_step + step) + micro);
      optimizer.EndMicroBatch();
    }
    optimizer.SynchronizeGradients();
    norms.push_back(optimizer.ClipGradNorm(max_norm));
    optimizer.Step(1e-2);
    optimizer.ZeroGrad();
  }
  return norms;
}

void ExpectClose(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, double tolerance) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), tolerance) << "parameter " << i;
  }
}

class ShardedOnOneRankTest : public ::testing::TestWithParam<int> {};

TEST_P(ShardedOnOneRankTest, ComputesWhatTheReplicatedOptimizerComputes) {
  SingleProcessCommunicator communicator;
  const auto replicated_params = MakeParameters();
  const auto sharded_params = MakeParameters();
  const auto replicated = MakeDataParallelOptimizer(communicator, replicated_params, Options(0));
  const auto sharded = MakeDataParallelOptimizer(communicator, sharded_params, Options(GetParam()));
  const auto norms_a = Train(*replicated, replicated_params, 4, /*max_norm=*/3.0);
  const auto norms_b = Train(*sharded, sharded_params, 4, 3.0);
  for (size_t i = 0; i < norms_a.size(); ++i) EXPECT_NEAR(norms_b[i], norms_a[i], 1e-5 * norms_a[i]) << "step " << i;
  EXPECT_GT(norms_a.front(), 3.0);  // the clip acted
  ExpectClose(sharded_params, replicated_params, 1e-6);
  // It trained, and the parameters stayed the module's tensors (views of the flat buffers).
  EXPECT_GT((sharded_params[0] - MakeParameters()[0]).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(sharded->StateBytes(), replicated->StateBytes());
}

TEST_P(ShardedOnOneRankTest, ReadsTheReplicatedCheckpointAndWritesOneTheReplicatedReads) {
  SingleProcessCommunicator communicator;
  testing::TempDir dir;
  // Stage 0 trains 2 steps and saves; a sharded optimizer loads that, trains 2 more and saves;
  // stage 0 loads the shards and trains 2 more. All of it must equal 6 uninterrupted steps.
  const auto straight_params = MakeParameters();
  Train(*MakeDataParallelOptimizer(communicator, straight_params, Options(0)), straight_params, 6, 3.0);

  const auto params = MakeParameters();
  auto first = MakeDataParallelOptimizer(communicator, params, Options(0));
  Train(*first, params, 2, 3.0, 0);
  const auto whole = first->WriteState(dir.path());
  ASSERT_EQ(whole, std::vector<std::string>{"optimizer.pt"});

  auto second = MakeDataParallelOptimizer(communicator, params, Options(GetParam()));
  second->ReadState(dir.path(), whole);
  Train(*second, params, 2, 3.0, 2);
  const auto shards = second->WriteState(dir.path());
  ASSERT_EQ(shards, std::vector<std::string>{"optimizer-shard-00000-of-00001.pt"});

  auto third = MakeDataParallelOptimizer(communicator, params, Options(0));
  third->ReadState(dir.path(), shards);
  Train(*third, params, 2, 3.0, 4);
  ExpectClose(params, straight_params, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Stages, ShardedOnOneRankTest, ::testing::Values(1, 2));

TEST(DataParallelOptimizerTest, AnUnknownStageIsInvalidInput) {
  SingleProcessCommunicator communicator;
  try {
    MakeDataParallelOptimizer(communicator, MakeParameters(), Options(3));
    FAIL() << "stage 3 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("distributed.zero_stage: 3 is not 0, 1 or 2"), std::string::npos) << e.what();
  }
}

TEST(DataParallelOptimizerTest, MixedDtypesAreRefusedBeforeAnyParameterMoves) {
  SingleProcessCommunicator communicator;
  std::vector<at::Tensor> params = {torch::ones({4}, torch::kFloat).requires_grad_(),
                                    torch::ones({4}, torch::kDouble).requires_grad_()};
  const void* first_storage = params[0].data_ptr();
  try {
    MakeDataParallelOptimizer(communicator, params, Options(2));
    FAIL() << "a float32 and a float64 parameter were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("share one dtype and device"), std::string::npos) << e.what();
  }
  EXPECT_EQ(params[0].data_ptr(), first_storage) << "the first parameter was moved into a bucket";
}

}  // namespace
}  // namespace dpo
