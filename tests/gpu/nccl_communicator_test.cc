// NcclCommunicator at world size 1 on one GPU: NCCL initialisation, all-reduce and broadcast
// results for every supported dtype, bucketing, and ordering after a backward pass on the
// current stream (no explicit synchronisation in between).
#include "trainer/comm/nccl_communicator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/common/error.h"

namespace dpo {
namespace {

class NcclCommunicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
  }
  SingleProcessCommunicator bootstrap_;
};

TEST_F(NcclCommunicatorTest, AllReduceOfOneRankKeepsEveryDtypeAndBucket) {
  NcclCommunicator nccl(bootstrap_, 0, nullptr, /*bucket_bytes=*/1024);
  EXPECT_EQ(nccl.world_size(), 1);
  EXPECT_EQ(nccl.Name(), "nccl");
  std::vector<at::Tensor> tensors;
  std::vector<at::Tensor> expected;
  for (const auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
    for (const int64_t n : {3, 700}) {  // 700 floats exceed one 1 KiB bucket
      tensors.push_back(torch::randn({n}, torch::device(torch::kCUDA)).to(dtype));
      expected.push_back(tensors.back().clone());
    }
  }
  tensors.push_back(torch::randn({4, 5}, torch::device(torch::kCUDA)).t());  // not contiguous
  expected.push_back(tensors.back().clone());
  nccl.AllReduceSum(tensors);
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(torch::equal(tensors[i], expected[i])) << i;
}

TEST_F(NcclCommunicatorTest, RefusesCpuTensors) {
  NcclCommunicator nccl(bootstrap_, 0, nullptr);
  std::vector<at::Tensor> tensors = {torch::ones({2})};
  EXPECT_THROW(nccl.AllReduceSum(tensors), Error);
}

TEST_F(NcclCommunicatorTest, GradientsAreReducedAfterTheBackwardThatProducesThem) {
  NcclCommunicator nccl(bootstrap_, 0, nullptr);
  const auto options = torch::device(torch::kCUDA).requires_grad(true);
  auto weight = torch::randn({2048, 2048}, options);
  const auto input = torch::randn({4096, 2048}, torch::device(torch::kCUDA));
  torch::mm(input, weight).pow(2).sum().backward();  // queued on the current stream
  std::vector<at::Tensor> gradients = {weight.grad()};
  nccl.AllReduceSum(gradients);  // must run after the backward kernels, not race them
  const auto expected = 2 * torch::mm(input.t(), torch::mm(input, weight.detach()));
  EXPECT_TRUE(torch::allclose(gradients[0], expected, 1e-3, 1e-2));
}

TEST_F(NcclCommunicatorTest, BroadcastFromRankZeroKeepsValuesAndDoublesGoThroughTheBootstrap) {
  NcclCommunicator nccl(bootstrap_, 0, nullptr);
  std::vector<at::Tensor> tensors = {torch::arange(10, torch::device(torch::kCUDA).dtype(torch::kFloat))};
  nccl.Broadcast(tensors, 0);
  EXPECT_TRUE(torch::equal(tensors[0].cpu(), torch::arange(10, torch::kFloat)));
  std::vector<double> values = {1.5, -2};
  nccl.AllReduceSum(values);
  EXPECT_EQ(values, (std::vector<double>{1.5, -2}));
}

}  // namespace
}  // namespace dpo
