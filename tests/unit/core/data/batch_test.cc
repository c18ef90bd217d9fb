// CollateSequences / CollatePairs: layout, right padding and completion masks, element-wise.
#include "core/data/batch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using Ids = std::vector<TokenId>;
using Rows = std::vector<std::vector<int64_t>>;
constexpr TokenId kPad = 99;

Rows ToRows(const at::Tensor& tensor) {
  const at::Tensor values = tensor.to(torch::kInt64).contiguous();
  Rows rows(static_cast<std::size_t>(values.size(0)));
  const auto accessor = values.accessor<int64_t, 2>();
  for (int64_t i = 0; i < values.size(0); ++i) {
    for (int64_t t = 0; t < values.size(1); ++t) rows[i].push_back(accessor[i][t]);
  }
  return rows;
}

TEST(CollateTest, SequencesAreRightPaddedWithCompletionMask) {
  const std::vector<TokenizedSequence> sequences = {
      {{1, 2}, {3, 4}},
      {{5}, {6, 7, 8, 9}},
      {{10, 11, 12}, {13}},
  };
  const SequenceBatch batch = CollateSequences(sequences, kPad);
  EXPECT_EQ(batch.input_ids.scalar_type(), torch::kInt64);
  EXPECT_EQ(batch.completion_mask.scalar_type(), torch::kBool);
  EXPECT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(batch.completion_mask.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(ToRows(batch.input_ids), (Rows{{1, 2, 3, 4, kPad},  //
                                           {5, 6, 7, 8, 9},
                                           {10, 11, 12, 13, kPad}}));
  EXPECT_EQ(ToRows(batch.completion_mask), (Rows{{0, 0, 1, 1, 0},  //
                                                 {0, 1, 1, 1, 1},
                                                 {0, 0, 0, 1, 0}}));
  EXPECT_EQ(batch.num_tokens, 4 + 5 + 4);
}

TEST(CollateTest, PairsStackChosenThenRejected) {
  const TokenizedPair first{{1, 2}, {3}, {4, 5, 6}, 1};
  const TokenizedPair second{{7}, {8, 9}, {10}, 2};
  const SequenceBatch batch = CollatePairs({&first, &second}, kPad);
  EXPECT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(ToRows(batch.input_ids), (Rows{{1, 2, 3, kPad, kPad},  // chosen of pair 0
                                           {7, 8, 9, kPad, kPad},  // chosen of pair 1
                                           {1, 2, 4, 5, 6},        // rejected of pair 0
                                           {7, 10, kPad, kPad, kPad}}));
  EXPECT_EQ(ToRows(batch.completion_mask), (Rows{{0, 0, 1, 0, 0},  //
                                                 {0, 1, 1, 0, 0},
                                                 {0, 0, 1, 1, 1},
                                                 {0, 1, 0, 0, 0}}));
  EXPECT_EQ(batch.num_tokens, 3 + 3 + 5 + 2);
}

TEST(CollateTest, PadIdEqualToARealTokenIsMaskedByPosition) {
  // Padding is found through the mask, never by comparing ids: here pad == the EOS-like id 4.
  const SequenceBatch batch = CollateSequences({{{1}, {4}}, {{1}, {2, 3, 4}}}, 4);
  EXPECT_EQ(ToRows(batch.input_ids), (Rows{{1, 4, 4, 4}, {1, 2, 3, 4}}));
  EXPECT_EQ(ToRows(batch.completion_mask), (Rows{{0, 1, 0, 0}, {0, 1, 1, 1}}));
  EXPECT_EQ(batch.num_tokens, 2 + 4);
}

TEST(CollateTest, BrokenInputsAreInternalErrors) {
  const TokenizedPair good{{1}, {2}, {3}, 1};
  const TokenizedPair no_rejected{{1}, {2}, {}, 2};
  testing::ExpectError([] { CollateSequences({}, kPad); }, ErrorKind::kInternal,
                       "collate: empty batch");
  testing::ExpectError([] { CollateSequences({{{}, {1}}}, kPad); }, ErrorKind::kInternal,
                       "collate: row 0 has an empty prompt");
  testing::ExpectError([&] { CollatePairs({&good, &no_rejected}, kPad); }, ErrorKind::kInternal,
                       "collate: row 3 has an empty completion");
  testing::ExpectError([&] { CollatePairs({&good, nullptr}, kPad); }, ErrorKind::kInternal,
                       "collate: pair 1 is null");
}

}  // namespace
}  // namespace dpo
