// ShardLayout: padding, segment ownership, pieces and the global flat order, by hand and by
// exhaustive coverage checks.
#include "trainer/zero/shard_layout.h"

#include <gtest/gtest.h>

#include <ostream>
#include <tuple>
#include <vector>

#include "core/common/error.h"

namespace dpo {

// Found by argument-dependent lookup, so it lives in ShardPiece's namespace.
bool operator==(const ShardPiece& a, const ShardPiece& b) {
  return std::tie(a.parameter, a.bucket, a.param_offset, a.bucket_offset, a.length) ==
         std::tie(b.parameter, b.bucket, b.param_offset, b.bucket_offset, b.length);
}
void PrintTo(const ShardPiece& p, std::ostream* out) {
  *out << "{parameter " << p.parameter << ", bucket " << p.bucket << ", param_offset " << p.param_offset
       << ", bucket_offset " << p.bucket_offset << ", length " << p.length << "}";
}

namespace {

// Module order: parameters 0..3 of 5, 3, 8 and 2 elements. Reversed (3, 2, 1, 0) they are
// bucketed as {3, 2} (2 + 8 = 10 elements) and {1, 0} (3 + 5 = 8).
const std::vector<int64_t> kNumels = {5, 3, 8, 2};
const std::vector<std::vector<size_t>> kBucketsReversed = {{0, 1}, {2, 3}};

TEST(ShardLayoutTest, BucketsArePaddedToTheWorldSizeAndCutIntoEqualSegments) {
  const ShardLayout layout(kNumels, kBucketsReversed, /*world_size=*/3, /*rank=*/0);
  ASSERT_EQ(layout.buckets().size(), 2u);
  EXPECT_EQ(layout.buckets()[0].parameters, (std::vector<size_t>{3, 2}));
  EXPECT_EQ(layout.buckets()[0].size, 10);
  EXPECT_EQ(layout.buckets()[0].padded_size, 12);
  EXPECT_EQ(layout.buckets()[0].segment, 4);
  EXPECT_EQ(layout.buckets()[1].parameters, (std::vector<size_t>{1, 0}));
  EXPECT_EQ(layout.buckets()[1].padded_size, 9);
  EXPECT_EQ(layout.buckets()[1].segment, 3);
  EXPECT_EQ(layout.bucket_offset(2), 2);
  EXPECT_EQ(layout.bucket_of(2), 0u);
  EXPECT_EQ(layout.bucket_offset(0), 3);
  EXPECT_EQ(layout.bucket_of(0), 1u);
}

TEST(ShardLayoutTest, TheGlobalFlatOrderIsModuleOrderWhateverTheBuckets) {
  const ShardLayout layout(kNumels, kBucketsReversed, 2, 1);
  EXPECT_EQ(layout.global_offset(0), 0);
  EXPECT_EQ(layout.global_offset(1), 5);
  EXPECT_EQ(layout.global_offset(2), 8);
  EXPECT_EQ(layout.global_offset(3), 16);
  EXPECT_EQ(layout.total(), 18);
}

TEST(ShardLayoutTest, ARankOwnsTheParametersPartsInsideItsSegments) {
  // Rank 1 of 3 owns [4, 8) of bucket 0 (parameter 2's elements 2..5) and [3, 6) of bucket 1
  // (parameter 0's elements 0..2).
  const ShardLayout layout(kNumels, kBucketsReversed, 3, 1);
  const std::vector<ShardPiece> expected = {{2, 0, 2, 4, 4}, {0, 1, 0, 3, 3}};
  EXPECT_EQ(layout.pieces(), expected);
  EXPECT_EQ(layout.OwnedElements(), 7);
  // Rank 2 owns [8, 12) of bucket 0, of which [10, 12) is padding, and [6, 9) of bucket 1.
  const ShardLayout last(kNumels, kBucketsReversed, 3, 2);
  const std::vector<ShardPiece> expected_last = {{2, 0, 6, 8, 2}, {0, 1, 3, 6, 2}};
  EXPECT_EQ(last.pieces(), expected_last);
}

TEST(ShardLayoutTest, EveryElementBelongsToExactlyOneRankAtEveryWorldSize) {
  for (int world = 1; world <= 7; ++world) {
    std::vector<int> owners(18, 0);
    int64_t owned = 0;
    for (int rank = 0; rank < world; ++rank) {
      const ShardLayout layout(kNumels, kBucketsReversed, world, rank);
      for (const ShardPiece& piece : layout.pieces()) {
        EXPECT_EQ(layout.bucket_offset(piece.parameter) + piece.param_offset, piece.bucket_offset);
        EXPECT_EQ(layout.bucket_of(piece.parameter), piece.bucket);
        const int64_t segment = layout.buckets()[piece.bucket].segment;
        EXPECT_GE(piece.bucket_offset, rank * segment);
        EXPECT_LE(piece.bucket_offset + piece.length, (rank + 1) * segment);
        for (int64_t i = 0; i < piece.length; ++i) ++owners[layout.global_offset(piece.parameter) + piece.param_offset + i];
      }
      owned += layout.OwnedElements();
    }
    EXPECT_EQ(owned, 18) << "world " << world;
    for (size_t i = 0; i < owners.size(); ++i) EXPECT_EQ(owners[i], 1) << "element " << i << ", world " << world;
  }
}

TEST(ShardLayoutTest, APlanThatMissesOrRepeatsAParameterIsAnInternalError) {
  EXPECT_THROW(ShardLayout(kNumels, {{0, 1}, {2}}, 2, 0), Error);
  EXPECT_THROW(ShardLayout(kNumels, {{0, 1}, {1, 2, 3}}, 2, 0), Error);
  EXPECT_THROW(ShardLayout(kNumels, {{0, 1, 2, 3}}, 2, 2), Error);
}

}  // namespace
}  // namespace dpo
