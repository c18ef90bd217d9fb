// GradientSync with a recording communicator: which buckets start when, in what order, and what
// the gradients hold afterwards.
#include "trainer/comm/gradient_sync.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/comm/communicator.h"

namespace dpo {
namespace {

// Pretends to be one of two ranks holding equal gradients: every sum doubles the values.
class DoublingCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  std::string Name() const override { return "doubling"; }
  void AllReduceSum(std::vector<at::Tensor>& tensors) override {
    for (auto& tensor : tensors) tensor.mul_(2);
  }
  void AllReduceSum(std::vector<double>& values) override {
    for (double& value : values) value *= 2;
  }
  void ReduceScatterSum(at::Tensor&, at::Tensor&) override { ADD_FAILURE() << "not used by GradientSync"; }
  void AllGather(at::Tensor&) override { ADD_FAILURE() << "not used by GradientSync"; }
  void Broadcast(std::string&, int) override {}
  void Broadcast(std::vector<at::Tensor>&, int) override {}
  std::unique_ptr<PendingReduction> StartAllReduceSum(at::Tensor flat) override {
    started.push_back(flat.numel());
    started_during_backward.push_back(in_backward);
    return Communicator::StartAllReduceSum(std::move(flat));
  }
  std::vector<int64_t> started;  // bucket sizes, in start order
  std::vector<bool> started_during_backward;
  bool in_backward = false;
};

struct Model {
  // Four parameters a, b, c, d of 10, 20, 30, 40 floats; 200-byte buckets hold 50 floats and are
  // planned in reverse order: {d (40)}, {c (30), b (20)}, {a (10)}.
  std::vector<at::Tensor> parameters = {torch::ones({10}, torch::requires_grad()), torch::ones({20}, torch::requires_grad()),
                                        torch::ones({30}, torch::requires_grad()), torch::ones({40}, torch::requires_grad())};
  at::Tensor Loss(bool use_first) const {
    at::Tensor loss = parameters[1].sum() * 2 + parameters[2].sum() * 3 + parameters[3].sum() * 4;
    return use_first ? loss + parameters[0].sum() : loss;
  }
};

TEST(GradientSyncTest, WithoutOverlapEverythingStartsInFinishInBucketOrder) {
  Model model;
  DoublingCommunicator communicator;
  GradientSync sync(communicator, model.parameters, 200, /*overlap=*/false);
  EXPECT_EQ(sync.num_buckets(), 3u);
  sync.Arm();  // no effect without overlap
  model.Loss(true).backward();
  EXPECT_TRUE(communicator.started.empty());
  sync.Finish();
  EXPECT_EQ(communicator.started, (std::vector<int64_t>{40, 50, 10}));
  EXPECT_TRUE(torch::equal(model.parameters[0].grad(), torch::full({10}, 2.0f)));
  EXPECT_TRUE(torch::equal(model.parameters[3].grad(), torch::full({40}, 8.0f)));
}

TEST(GradientSyncTest, WithOverlapBucketsStartDuringTheArmedBackwardOnly) {
  Model model;
  DoublingCommunicator communicator;
  GradientSync sync(communicator, model.parameters, 200, /*overlap=*/true);
  communicator.in_backward = true;
  model.Loss(true).backward();  // an earlier micro-batch: not armed, nothing starts
  EXPECT_TRUE(communicator.started.empty());
  sync.Arm();
  model.Loss(true).backward();  // the last micro-batch
  communicator.in_backward = false;
  EXPECT_EQ(communicator.started, (std::vector<int64_t>{40, 50, 10}));
  EXPECT_EQ(communicator.started_during_backward, (std::vector<bool>{true, true, true}));
  sync.Finish();
  EXPECT_EQ(communicator.started.size(), 3u);  // nothing started twice
  // Two micro-batches accumulated, then doubled by the "other rank".
  EXPECT_TRUE(torch::equal(model.parameters[0].grad(), torch::full({10}, 4.0f)));
  EXPECT_TRUE(torch::equal(model.parameters[2].grad(), torch::full({30}, 12.0f)));
}

TEST(GradientSyncTest, ABucketWithAnUnusedParameterWaitsForFinishAndKeepsTheOrder) {
  Model model;
  DoublingCommunicator communicator;
  GradientSync sync(communicator, model.parameters, 200, /*overlap=*/true);
  sync.Arm();
  communicator.in_backward = true;
  model.Loss(/*use_first=*/false).backward();  // parameter a gets no gradient: bucket {a} never completes
  communicator.in_backward = false;
  EXPECT_EQ(communicator.started, (std::vector<int64_t>{40, 50}));
  sync.Finish();
  EXPECT_EQ(communicator.started, (std::vector<int64_t>{40, 50, 10}));
  EXPECT_EQ(communicator.started_during_backward, (std::vector<bool>{true, true, false}));
  EXPECT_TRUE(torch::equal(model.parameters[0].grad(), torch::zeros({10})));
  EXPECT_TRUE(torch::equal(model.parameters[1].grad(), torch::full({20}, 4.0f)));
  // The next step starts from a clean count.
  for (auto& parameter : model.parameters) parameter.grad().zero_();
  sync.Arm();
  model.Loss(true).backward();
  EXPECT_EQ(communicator.started.size(), 6u);
  sync.Finish();
}

}  // namespace
}  // namespace dpo
