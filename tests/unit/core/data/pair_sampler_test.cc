// PairSampler: validation, permutation and determinism of epoch orders, disjoint rank shards
// covering each global batch for several world sizes, epoch roll-over and resumption.
#include "core/data/pair_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using Indices = std::vector<int64_t>;

TEST(PairSamplerTest, ConstructorReportsEveryProblemWithValues) {
  const struct {
    int64_t num_pairs, global_batch_size;
    int rank, world_size;
    std::string message;
  } cases[] = {
      {10, 6, 0, 4, "pair sampler: global_batch_size=6 must be divisible by world_size=4"},
      {10, 12, 0, 1, "pair sampler: global_batch_size=12 must be <= num_pairs=10"},
      {10, 0, 0, 1, "pair sampler: global_batch_size=0 must be >= 1"},
      {10, 4, 2, 2, "pair sampler: rank=2 must be in [0, world_size=2)"},
      {10, 4, -1, 2, "pair sampler: rank=-1 must be in [0, world_size=2)"},
      {10, 4, 0, 0, "pair sampler: world_size=0 must be >= 1"},
      {0, 1, 0, 1, "pair sampler: num_pairs=0 must be >= 1"},
      {10, 15, 3, 2,
       "pair sampler: rank=3 must be in [0, world_size=2); global_batch_size=15 must be <= "
       "num_pairs=10; global_batch_size=15 must be divisible by world_size=2"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    testing::ExpectInvalidInput(
        [&] { PairSampler(c.num_pairs, c.global_batch_size, 1, c.rank, c.world_size); },
        c.message);
  }
}

TEST(PairSamplerTest, StepsPerEpochLeavesOutTheTail) {
  EXPECT_EQ(PairSampler(10, 3, 0, 0, 1).StepsPerEpoch(), 3);
  EXPECT_EQ(PairSampler(12, 4, 0, 0, 2).StepsPerEpoch(), 3);
  EXPECT_EQ(PairSampler(5, 5, 0, 0, 1).StepsPerEpoch(), 1);
  EXPECT_EQ(PairSampler(1000, 64, 0, 0, 8).StepsPerEpoch(), 15);
}

TEST(PairSamplerTest, EpochOrderIsAPermutation) {
  for (const int64_t n : {1, 2, 7, 100, 1001}) {
    SCOPED_TRACE(n);
    Indices order = PairSampler::EpochOrder(n, 42, 3);
    ASSERT_EQ(static_cast<int64_t>(order.size()), n);
    std::sort(order.begin(), order.end());
    Indices identity(static_cast<std::size_t>(n));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(order, identity);
  }
}

TEST(PairSamplerTest, EpochOrderDependsOnlyOnSeedAndEpoch) {
  const Indices base = PairSampler::EpochOrder(100, 7, 0);
  EXPECT_EQ(PairSampler::EpochOrder(100, 7, 0), base);
  EXPECT_NE(PairSampler::EpochOrder(100, 7, 1), base);
  EXPECT_NE(PairSampler::EpochOrder(100, 8, 0), base);
  Indices identity(100);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(base, identity);
}

// Pins the generator: a change here changes every run's data order (and breaks resumes of
// checkpoints written before it), on every platform alike. Values from an independent Python
// implementation of SplitMix64 + Fisher-Yates.
TEST(PairSamplerTest, EpochOrderGoldenValues) {
  EXPECT_EQ(PairSampler::EpochOrder(10, 0, 0), (Indices{0, 1, 7, 2, 5, 4, 9, 3, 8, 6}));
  EXPECT_EQ(PairSampler::EpochOrder(10, 1234, 5), (Indices{8, 3, 4, 6, 5, 9, 7, 0, 1, 2}));
}

class PairSamplerWorldTest : public ::testing::TestWithParam<int> {};

TEST_P(PairSamplerWorldTest, ShardsAreDisjointContiguousAndCoverTheGlobalBatch) {
  const int world_size = GetParam();
  const int64_t num_pairs = 50;
  const int64_t global_batch_size = 12;
  std::vector<PairSampler> ranks;
  for (int rank = 0; rank < world_size; ++rank) {
    ranks.emplace_back(num_pairs, global_batch_size, 99, rank, world_size);
  }
  const int64_t per_rank = global_batch_size / world_size;
  // Two full epochs (4 steps each) and a bit.
  for (int step = 0; step < 10; ++step) {
    SCOPED_TRACE(step);
    const Indices global = ranks[0].GlobalBatch();
    ASSERT_EQ(static_cast<int64_t>(global.size()), global_batch_size);
    EXPECT_EQ(std::set<int64_t>(global.begin(), global.end()).size(), global.size());
    Indices concatenated;
    for (int rank = 0; rank < world_size; ++rank) {
      EXPECT_EQ(ranks[rank].GlobalBatch(), global);
      const Indices shard = ranks[rank].RankShard();
      ASSERT_EQ(static_cast<int64_t>(shard.size()), per_rank);
      EXPECT_EQ(shard, Indices(global.begin() + rank * per_rank,
                               global.begin() + (rank + 1) * per_rank));
      concatenated.insert(concatenated.end(), shard.begin(), shard.end());
    }
    EXPECT_EQ(concatenated, global);  // disjoint (global has no repeats) and covering
    for (auto& sampler : ranks) sampler.Advance();
  }
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, PairSamplerWorldTest, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "World" + std::to_string(info.param);
                         });

TEST(PairSamplerTest, EpochVisitsDistinctPairsAndRollsOver) {
  PairSampler sampler(10, 3, 5, 0, 1);
  const Indices epoch0 = PairSampler::EpochOrder(10, 5, 0);
  std::set<int64_t> seen;
  for (int64_t step = 0; step < 3; ++step) {
    EXPECT_EQ(sampler.State().epoch, 0);
    EXPECT_EQ(sampler.State().step_in_epoch, step);
    const Indices batch = sampler.GlobalBatch();
    EXPECT_EQ(batch, Indices(epoch0.begin() + step * 3, epoch0.begin() + (step + 1) * 3));
    seen.insert(batch.begin(), batch.end());
    sampler.Advance();
  }
  EXPECT_EQ(seen.size(), 9u);  // one pair of 10 is the tail left out of epoch 0
  EXPECT_EQ(sampler.State().epoch, 1);
  EXPECT_EQ(sampler.State().step_in_epoch, 0);
  const Indices epoch1 = PairSampler::EpochOrder(10, 5, 1);
  EXPECT_EQ(sampler.GlobalBatch(), Indices(epoch1.begin(), epoch1.begin() + 3));
  EXPECT_NE(epoch1, epoch0);
}

TEST(PairSamplerTest, RestoredStateReproducesTheContinuation) {
  for (const int world_size : {1, 2, 3, 4}) {
    SCOPED_TRACE(world_size);
    const int rank = world_size - 1;
    PairSampler original(30, 12, 2024, rank, world_size);  // 2 steps per epoch
    for (int i = 0; i < 3; ++i) original.Advance();
    const SamplerState saved = original.State();
    EXPECT_EQ(saved.epoch, 1);
    EXPECT_EQ(saved.step_in_epoch, 1);

    PairSampler resumed(30, 12, 2024, rank, world_size);
    resumed.Restore(saved);
    for (int i = 0; i < 7; ++i) {  // across several epoch boundaries
      EXPECT_EQ(resumed.State().epoch, original.State().epoch);
      EXPECT_EQ(resumed.State().step_in_epoch, original.State().step_in_epoch);
      EXPECT_EQ(resumed.RankShard(), original.RankShard());
      EXPECT_EQ(resumed.GlobalBatch(), original.GlobalBatch());
      original.Advance();
      resumed.Advance();
    }
  }
}

TEST(PairSamplerTest, RestoreRejectsStateOutsideTheEpoch) {
  PairSampler sampler(10, 3, 0, 0, 1);
  testing::ExpectInvalidInput(
      [&] { sampler.Restore({0, 3}); },
      "pair sampler state: step_in_epoch=3 must be in [0, 3) (num_pairs=10, global_batch_size=3)");
  testing::ExpectInvalidInput(
      [&] { sampler.Restore({-1, -2}); },
      "pair sampler state: epoch=-1 must be >= 0; step_in_epoch=-2 must be in [0, 3) "
      "(num_pairs=10, global_batch_size=3)");
  // A failed restore leaves the cursor where it was.
  EXPECT_EQ(sampler.State().epoch, 0);
  EXPECT_EQ(sampler.State().step_in_epoch, 0);
}

}  // namespace
}  // namespace dpo
