// Tests of the tensor <-> dpo.v1 conversion: requests from collated batches, batches from wire
// sequences, and score responses, all exact.
#include "proto/wire/score_wire.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/common/error.h"

namespace dpo {
namespace {

uint32_t Bits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

std::vector<TokenizedSequence> Sequences() {
  // The pad id is 0, and two completions end with token 0: the mask, not the pad id, decides
  // where a row ends.
  return {
      {{1, 2, 3}, {4, 5}},
      {{9}, {0}},
      {{50000, 7, 7, 7, 7}, {8, 0, 0}},
      {{3, 4}, {2147483647}},
  };
}

TEST(ScoreWireTest, RequestFromCollatedBatchCarriesExactIdsAndStarts) {
  const std::vector<TokenizedSequence> sequences = Sequences();
  const SequenceBatch batch = CollateSequences(sequences, /*pad_id=*/0);
  const v1::ScoreRequest request = BuildScoreRequest(batch, "fp", /*return_token_log_probs=*/true);
  EXPECT_EQ(request.expected_fingerprint(), "fp");
  EXPECT_TRUE(request.return_token_log_probs());
  ASSERT_EQ(request.sequences_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const TokenizedSequence& source = sequences[static_cast<std::size_t>(i)];
    std::vector<int32_t> expected(source.prompt_ids.begin(), source.prompt_ids.end());
    expected.insert(expected.end(), source.completion_ids.begin(), source.completion_ids.end());
    const auto& ids = request.sequences(i).token_ids();
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.end()), expected) << "sequence " << i;
    EXPECT_EQ(request.sequences(i).completion_start(), static_cast<int32_t>(source.prompt_ids.size()));
  }
}

TEST(ScoreWireTest, WireSequencesCollateBackToTheSameBatch) {
  const SequenceBatch original = CollateSequences(Sequences(), /*pad_id=*/0);
  // Through bytes, as the server receives it.
  v1::ScoreRequest received;
  ASSERT_TRUE(received.ParseFromString(BuildScoreRequest(original, "fp").SerializeAsString()));
  const SequenceBatch rebuilt = BatchFromRequest(received, /*pad_id=*/0);
  EXPECT_TRUE(torch::equal(rebuilt.input_ids, original.input_ids));
  EXPECT_TRUE(torch::equal(rebuilt.completion_mask, original.completion_mask));
  EXPECT_EQ(rebuilt.num_tokens, original.num_tokens);

  // Another pad id changes only the padding.
  const SequenceBatch padded = BatchFromRequest(received, /*pad_id=*/77);
  const at::Tensor padding = padded.input_ids.eq(77);
  EXPECT_EQ(padding.sum().item<int64_t>(), 4 * 8 - original.num_tokens);
  EXPECT_TRUE(torch::equal(padded.input_ids.masked_select(~padding), original.input_ids.masked_select(~padding)));
}

TEST(ScoreWireTest, MalformedBatchRowsAreNamed) {
  struct Case {
    const char* name;
    std::vector<bool> mask;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no completion", {false, false, false, false}, "score request: batch row 1: completion_mask has no completion token"},
      {"column zero", {true, true, false, false}, "score request: batch row 1: completion_mask[1][0] is true; the first token has no prediction"},
      {"gap", {false, true, false, true}, "score request: batch row 1: completion_mask has a gap at column 2 inside the completion [1, 4)"},
  };
  for (const Case& c : cases) {
    SequenceBatch batch;
    batch.input_ids = torch::ones({2, 4}, torch::kInt64);
    batch.completion_mask = torch::zeros({2, 4}, torch::kBool);
    batch.completion_mask[0][3] = true;
    for (int64_t t = 0; t < 4; ++t) batch.completion_mask[1][t] = static_cast<bool>(c.mask[static_cast<std::size_t>(t)]);
    try {
      BuildScoreRequest(batch, "fp");
      FAIL() << c.name;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInternal) << c.name;
      EXPECT_EQ(std::string(error.what()), c.message) << c.name;
    }
  }
  SequenceBatch wide;
  wide.input_ids = torch::full({1, 2}, int64_t{1} << 40, torch::kInt64);
  wide.completion_mask = torch::tensor({false, true}).reshape({1, 2});
  EXPECT_THROW(BuildScoreRequest(wide, "fp"), Error);
}

TEST(ScoreWireTest, ResponseRoundTripIsBitExact) {
  const std::vector<float> values = {-12.345678F, -0.0F, std::numeric_limits<float>::denorm_min(),
                                     -std::numeric_limits<float>::max(), std::nanf("0x5"),
                                     -std::numeric_limits<float>::infinity()};
  const at::Tensor sums = torch::tensor(values, torch::kFloat32);
  const at::Tensor counts = torch::tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, torch::kInt64);
  const v1::ScoreResponse sent = ScoreResponseFromTensors(sums, counts, {true, false, false, true, false, true});

  v1::ScoreRequest request;
  for (int i = 0; i < 6; ++i) {
    v1::Sequence* sequence = request.add_sequences();
    for (int t = 0; t < i + 3; ++t) sequence->add_token_ids(t);
    sequence->set_completion_start(2);  // i + 3 tokens from 2: i + 1 completion tokens
  }
  v1::ScoreResponse received;
  ASSERT_TRUE(received.ParseFromString(sent.SerializeAsString()));
  const WireScores scores = ScoresFromResponse(request, received);
  ASSERT_EQ(scores.sum_log_probs.scalar_type(), torch::kFloat32);
  ASSERT_EQ(scores.token_counts.scalar_type(), torch::kInt64);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(Bits(scores.sum_log_probs[i].item<float>()), Bits(values[static_cast<std::size_t>(i)])) << i;
    EXPECT_EQ(scores.token_counts[i].item<int64_t>(), i + 1);
  }
  EXPECT_EQ(scores.from_cache, 3);
}

TEST(ScoreWireTest, ResponsesThatDisagreeWithTheRequestAreNamed) {
  v1::ScoreRequest request;
  v1::Sequence* sequence = request.add_sequences();
  for (int t = 0; t < 5; ++t) sequence->add_token_ids(t);
  sequence->set_completion_start(3);
  request.set_return_token_log_probs(true);

  auto expect_error = [&](const v1::ScoreResponse& response, const std::string& message) {
    try {
      ScoresFromResponse(request, response);
      FAIL() << message;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kReferenceUnavailable);
      EXPECT_EQ(std::string(error.what()), message);
    }
  };
  expect_error(v1::ScoreResponse(), "ScoreResponse.scores: 0 scores for 1 request sequences");
  v1::ScoreResponse response;
  v1::SequenceScore* score = response.add_scores();
  score->set_completion_tokens(3);
  expect_error(response, "ScoreResponse.scores[0].completion_tokens: 3, expected 2 (5 tokens from completion_start 3)");
  score->set_completion_tokens(2);
  score->set_token_log_probs(std::string(4, '\0'));
  expect_error(response, "ScoreResponse.scores[0].token_log_probs: 4 bytes, expected 8 (4 per completion token)");
  score->set_token_log_probs(PackFloat32(torch::tensor({-1.5F, -2.25F})));
  EXPECT_EQ(ScoresFromResponse(request, response).token_counts[0].item<int64_t>(), 2);
}

TEST(ScoreWireTest, TokenLogProbsPackLittleEndianBitExact) {
  const at::Tensor values = torch::tensor({-1.0F, -0.0F, std::nanf("0x7"), -3.4e38F});
  const std::string bytes = PackFloat32(values);
  ASSERT_EQ(bytes.size(), 16U);
  // -1.0f = 0xBF800000, little-endian.
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x00\x00\x80\xBF", 4));
  const at::Tensor back = UnpackFloat32(bytes, "scores[0].token_log_probs");
  ASSERT_EQ(back.size(0), 4);
  for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(Bits(back[k].item<float>()), Bits(values[k].item<float>())) << k;
  try {
    UnpackFloat32(std::string(6, '\0'), "scores[2].token_log_probs");
    FAIL();
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "scores[2].token_log_probs: 6 bytes, not a multiple of 4 (float32)");
  }
}

TEST(ScoreWireTest, ResponseFromTensorsRejectsMismatches) {
  const at::Tensor sums = torch::zeros({3}, torch::kFloat32);
  EXPECT_THROW(ScoreResponseFromTensors(sums.to(torch::kFloat64), torch::ones({3}, torch::kInt64)), Error);
  EXPECT_THROW(ScoreResponseFromTensors(sums, torch::ones({2}, torch::kInt64)), Error);
  EXPECT_THROW(ScoreResponseFromTensors(sums, torch::ones({3}, torch::kInt64), {true}), Error);
  EXPECT_EQ(ScoreResponseFromTensors(sums, torch::ones({3}, torch::kInt32)).scores(2).completion_tokens(), 1);
}

}  // namespace
}  // namespace dpo
