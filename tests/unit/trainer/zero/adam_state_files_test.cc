// Optimizer shard files: round trips, every way a set of shards can be wrong, and the
// conversion to and from LibTorch's per-parameter AdamW state.
#include "trainer/zero/adam_state_files.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/optim/fused_adamw.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

constexpr int64_t kTotal = 20;

struct Shards {
  testing::TempDir dir;
  FlatAdamState state;
  Shards() {
    torch::manual_seed(7);
    state.step = 3;
    state.exp_avg = torch::randn({kTotal});
    state.exp_avg_sq = torch::rand({kTotal});
  }
  // Writes the given (begin, length) ranges of `state` as shard `name`.
  void Write(const std::string& name, const std::vector<std::pair<int64_t, int64_t>>& ranges, int64_t step = 3,
             int64_t total = kTotal) {
    std::vector<at::Tensor> avg, avg_sq;
    for (const auto& [begin, length] : ranges) {
      avg.push_back(state.exp_avg.narrow(0, begin, length));
      avg_sq.push_back(state.exp_avg_sq.narrow(0, begin, length));
    }
    WriteOptimizerShard(dir.File(name), step, total, ranges, torch::cat(avg), torch::cat(avg_sq));
  }
  std::string ErrorReading(const std::vector<std::string>& files) {
    try {
      ReadOptimizerShards(dir.path(), files, kTotal);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      return e.what();
    }
    return "";
  }
};

TEST(AdamStateFilesTest, ShardNamesSortByRankAndSayTheWorldSize) {
  EXPECT_EQ(OptimizerShardFileName(1, 4), "optimizer-shard-00001-of-00004.pt");
  EXPECT_LT(OptimizerShardFileName(9, 12), OptimizerShardFileName(10, 12));
}

TEST(AdamStateFilesTest, ShardsOfAnyCutReassembleBitExactly) {
  Shards shards;
  shards.Write("a.pt", {{0, 4}, {12, 3}});
  shards.Write("b.pt", {{4, 8}});
  shards.Write("c.pt", {{15, 5}});
  const FlatAdamState read = ReadOptimizerShards(shards.dir.path(), {"a.pt", "b.pt", "c.pt"}, kTotal);
  EXPECT_EQ(read.step, 3);
  EXPECT_TRUE(torch::equal(read.exp_avg, shards.state.exp_avg));
  EXPECT_TRUE(torch::equal(read.exp_avg_sq, shards.state.exp_avg_sq));
}

TEST(AdamStateFilesTest, AMissingShardIsRefusedNamingTheFirstElementWithoutState) {
  Shards shards;
  shards.Write("a.pt", {{0, 4}});
  shards.Write("c.pt", {{15, 5}});
  const std::string error = shards.ErrorReading({"a.pt", "c.pt"});
  EXPECT_NE(error.find("leave element 4 of 20 without state (a shard is missing)"), std::string::npos) << error;
}

TEST(AdamStateFilesTest, OverlappingShardsAreRefusedNamingTheFile) {
  Shards shards;
  shards.Write("a.pt", {{0, 12}});
  shards.Write("b.pt", {{10, 10}});
  const std::string error = shards.ErrorReading({"a.pt", "b.pt"});
  EXPECT_NE(error.find("b.pt: range [10, 20) overlaps another shard's"), std::string::npos) << error;
}

TEST(AdamStateFilesTest, ShardsOfAnotherModelOrStepAreRefused) {
  Shards shards;
  shards.Write("a.pt", {{0, 10}});
  shards.Write("other_model.pt", {{10, 10}}, 3, /*total=*/21);
  shards.Write("other_step.pt", {{10, 10}}, /*step=*/4);
  std::string error = shards.ErrorReading({"a.pt", "other_model.pt"});
  EXPECT_NE(error.find("other_model.pt: holds optimizer state for 21 parameter elements; this model has 20"),
            std::string::npos)
      << error;
  error = shards.ErrorReading({"a.pt", "other_step.pt"});
  EXPECT_NE(error.find("other_step.pt: step 4 differs from the other shards' 3"), std::string::npos) << error;
}

TEST(AdamStateFilesTest, AFileThatIsNotAShardIsRefusedNamingIt) {
  Shards shards;
  std::ofstream(shards.dir.File("junk.pt")) << "not an archive";
  const std::string error = shards.ErrorReading({"junk.pt"});
  EXPECT_NE(error.find("junk.pt: not an optimizer shard"), std::string::npos) << error;
}

TEST(AdamStateFilesTest, PerParameterStateSurvivesFlatteningAndContinuesIdentically) {
  torch::manual_seed(1);
  const auto make = [] {
    return std::vector<at::Tensor>{torch::randn({3, 4}, torch::requires_grad()), torch::randn({5}, torch::requires_grad())};
  };
  std::vector<at::Tensor> a = make();
  std::vector<at::Tensor> b;
  for (const auto& p : a) b.push_back(p.detach().clone().requires_grad_(true));
  FusedAdamW first(a, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  const auto set_grads = [](std::vector<at::Tensor>& params, int seed) {
    torch::manual_seed(seed);
    for (auto& p : params) p.mutable_grad() = torch::randn_like(p);
  };
  for (int i = 0; i < 2; ++i) {
    set_grads(a, 10 + i);
    first.step();
  }
  const FlatAdamState flat = FlattenAdamState(first, a);
  EXPECT_EQ(flat.step, 2);
  EXPECT_EQ(flat.exp_avg.numel(), 17);
  {
    const torch::NoGradGuard no_grad;
    for (size_t i = 0; i < a.size(); ++i) b[i].copy_(a[i]);
  }
  FusedAdamW second(b, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  LoadAdamState(flat, second, b);
  set_grads(a, 20);
  set_grads(b, 20);
  first.step();
  second.step();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

}  // namespace
}  // namespace dpo
