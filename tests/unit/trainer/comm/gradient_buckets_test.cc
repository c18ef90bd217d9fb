// PlanBuckets: order, size limit, dtype breaks; Flatten/Unflatten: views, copies, round trip.
#include "trainer/comm/gradient_buckets.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/common/error.h"

namespace dpo {
namespace {

using Buckets = std::vector<std::vector<size_t>>;

TEST(GradientBucketsTest, FillsBucketsInOrderUpToTheLimit) {
  // 4-byte floats: 10, 10, 5, 30, 1 elements = 40, 40, 20, 120, 4 bytes; limit 80 bytes.
  const std::vector<at::Tensor> tensors = {torch::zeros({10}), torch::zeros({2, 5}), torch::zeros({5}),
                                           torch::zeros({30}), torch::zeros({1})};
  EXPECT_EQ(PlanBuckets(tensors, 80), (Buckets{{0, 1}, {2}, {3}, {4}}));
  EXPECT_EQ(PlanBuckets(tensors, 1 << 20), (Buckets{{0, 1, 2, 3, 4}}));
  EXPECT_EQ(PlanBuckets(tensors, 1), (Buckets{{0}, {1}, {2}, {3}, {4}}));
}

TEST(GradientBucketsTest, ADtypeChangeStartsANewBucket) {
  const std::vector<at::Tensor> tensors = {torch::zeros({2}), torch::zeros({2}, torch::kDouble), torch::zeros({2}, torch::kDouble),
                                           torch::zeros({2})};
  EXPECT_EQ(PlanBuckets(tensors, 1 << 20), (Buckets{{0}, {1, 2}, {3}}));
}

TEST(GradientBucketsTest, RejectsANonPositiveBucketSize) {
  EXPECT_THROW(PlanBuckets({torch::zeros({1})}, 0), Error);
}

TEST(GradientBucketsTest, ASingleContiguousTensorIsReducedInPlace) {
  std::vector<at::Tensor> tensors = {torch::arange(6, torch::kFloat).view({2, 3})};
  const at::Tensor flat = FlattenBucket(tensors, {0});
  EXPECT_EQ(flat.data_ptr(), tensors[0].data_ptr());
  EXPECT_EQ(flat.sizes(), (std::vector<int64_t>{6}));
}

TEST(GradientBucketsTest, FlattenThenUnflattenRoundTripsThroughAModifiedBuffer) {
  const at::Tensor transposed = torch::arange(6, torch::kFloat).view({2, 3}).t();  // not contiguous
  std::vector<at::Tensor> tensors = {torch::arange(4, torch::kFloat), transposed, torch::ones({2, 2})};
  const std::vector<at::Tensor> originals = {tensors[0].clone(), tensors[1].clone(), tensors[2].clone()};
  at::Tensor flat = FlattenBucket(tensors, {0, 1, 2});
  ASSERT_EQ(flat.numel(), 14);
  EXPECT_TRUE(torch::equal(flat.narrow(0, 4, 6), transposed.reshape({-1})));
  flat.mul_(2);  // what a sum over two equal ranks does
  UnflattenBucket(flat, tensors, {0, 1, 2});
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(torch::equal(tensors[i], originals[i] * 2)) << i;
  EXPECT_EQ(tensors[1].data_ptr(), transposed.data_ptr());  // written in place, not replaced
}

TEST(GradientBucketsTest, BucketViewGradientsAreReducedWithoutCopiesAndSurviveBackward) {
  std::vector<at::Tensor> parameters = {torch::ones({3, 2}, torch::requires_grad()), torch::ones({4}, torch::requires_grad()),
                                        torch::ones({100}, torch::requires_grad())};
  // 6 + 4 floats fit in 48 bytes; the 100-float tensor gets its own bucket.
  const std::vector<at::Tensor> buffers = AssignBucketViewGradients(parameters, 48);
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].numel(), 10);
  const void* first_grad = parameters[0].grad().data_ptr();
  for (int pass = 1; pass <= 2; ++pass) {  // two backward passes accumulate into the same views
    (parameters[0].sum() * 2 + parameters[1].sum() * 3 + parameters[2].sum()).backward();
  }
  EXPECT_EQ(parameters[0].grad().data_ptr(), first_grad);
  EXPECT_TRUE(torch::equal(buffers[0].narrow(0, 0, 6), torch::full({6}, 4.0f)));
  EXPECT_TRUE(torch::equal(buffers[0].narrow(0, 6, 4), torch::full({4}, 6.0f)));

  std::vector<at::Tensor> gradients = {parameters[0].grad(), parameters[1].grad(), parameters[2].grad()};
  const auto buckets = PlanBuckets(gradients, 48);
  ASSERT_EQ(buckets.size(), 2u);
  const at::Tensor flat = FlattenBucket(gradients, buckets[0]);
  EXPECT_EQ(flat.data_ptr(), buffers[0].data_ptr());  // a view: no copy
  EXPECT_EQ(flat.numel(), 10);
  // Out of order, they are no longer back to back: a copy.
  EXPECT_NE(FlattenBucket(gradients, {1, 0}).data_ptr(), buffers[0].data_ptr());
}

}  // namespace
}  // namespace dpo
