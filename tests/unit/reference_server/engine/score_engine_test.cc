// Tests of ScoreEngine: misses computed then served from the cache in request order, validation
// codes passed through and counted, per-token log-probs, and the queue-full path.
#include "reference_server/engine/score_engine.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <future>

#include "proto/wire/score_wire.h"
#include "tests/unit/reference_server/engine/engine_test_util.h"

namespace dpo {
namespace {

using testing::DirectScore;
using testing::RandomSequences;
using testing::TempDir;
using testing::TinyReference;

class ScoreEngineTest : public ::testing::Test {
 protected:
  ScoreEngineTest() {
    ScoreCacheOptions options;
    options.directory = dir_.path();
    options.map_size_bytes = 16ULL << 20;
    cache_ = std::make_unique<ScoreCache>(options);
  }

  // Runs one Score call to completion.
  EngineStatus Score(ScoreEngine& engine, const v1::ScoreRequest& request, v1::ScoreResponse* response) {
    std::promise<EngineStatus> done;
    engine.Score(request, response, [&done](const EngineStatus& status) { done.set_value(status); });
    return done.get_future().get();
  }

  v1::ScoreRequest Request(const std::vector<v1::Sequence>& sequences) const {
    v1::ScoreRequest request;
    request.set_expected_fingerprint(reference_.fingerprint);
    for (const v1::Sequence& sequence : sequences) *request.add_sequences() = sequence;
    return request;
  }

  BatcherOptions Batcher() const {
    BatcherOptions options;
    options.max_wait_ms = 0;
    options.pad_id = reference_.tokenizer->PadId();
    return options;
  }

  TempDir dir_;
  LoadedReferenceModel reference_ = TinyReference();
  std::unique_ptr<ScoreCache> cache_;
};

TEST_F(ScoreEngineTest, MissesAreComputedThenServedFromTheCacheInRequestOrder) {
  const std::vector<v1::Sequence> sequences = RandomSequences(5, 30, 21);
  std::vector<float> expected;
  for (const v1::Sequence& sequence : sequences) expected.push_back(DirectScore(*reference_.model, sequence));
  ScoreEngine engine(reference_, cache_.get(), Batcher(), ScoreLimits{});
  EXPECT_EQ(engine.limits().vocab_size, 259);
  EXPECT_EQ(engine.limits().max_sequence_length, 64);

  // Warm two of the five, then ask for all five: rows 1 and 3 cached, the rest computed.
  v1::ScoreResponse warm;
  ASSERT_TRUE(Score(engine, Request({sequences[1], sequences[3]}), &warm).ok());
  v1::ScoreResponse response;
  const EngineStatus status = Score(engine, Request(sequences), &response);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(response.scores_size(), 5);
  for (int i = 0; i < 5; ++i) {
    const v1::SequenceScore& score = response.scores(i);
    EXPECT_NEAR(score.sum_log_prob(), expected[static_cast<std::size_t>(i)], 1e-6 * std::fabs(expected[static_cast<std::size_t>(i)])) << i;
    EXPECT_EQ(score.completion_tokens(), sequences[static_cast<std::size_t>(i)].token_ids_size() -
                                             sequences[static_cast<std::size_t>(i)].completion_start());
    EXPECT_EQ(score.from_cache(), i == 1 || i == 3) << i;
  }
  v1::ScoreResponse again;
  ASSERT_TRUE(Score(engine, Request(sequences), &again).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(again.scores(i).from_cache()) << i;
    EXPECT_EQ(again.scores(i).sum_log_prob(), response.scores(i).sum_log_prob()) << i;  // bit-exact
  }
  const ScoreEngineStats stats = engine.Stats();
  EXPECT_EQ(stats.requests, 3U);
  EXPECT_EQ(stats.requests_failed, 0U);
  EXPECT_EQ(stats.sequences_scored, 12U);
  EXPECT_EQ(stats.batcher.sequences_computed, 5U);
  EXPECT_EQ(stats.cache.hits, 7U);
  EXPECT_EQ(stats.cache.misses, 5U);
}

TEST_F(ScoreEngineTest, PerTokenLogProbsMatchTheFullLogitsAndBypassTheSumCache) {
  const std::vector<v1::Sequence> sequences = RandomSequences(3, 30, 23);
  ScoreEngine engine(reference_, cache_.get(), Batcher(), ScoreLimits{});
  v1::ScoreResponse warm;
  ASSERT_TRUE(Score(engine, Request(sequences), &warm).ok());  // sums now cached
  v1::ScoreRequest request = Request(sequences);
  request.set_return_token_log_probs(true);
  v1::ScoreResponse response;
  const EngineStatus status = Score(engine, request, &response);
  ASSERT_TRUE(status.ok()) << status.message();
  for (int i = 0; i < 3; ++i) {
    const v1::Sequence& sequence = sequences[static_cast<std::size_t>(i)];
    const v1::SequenceScore& score = response.scores(i);
    EXPECT_FALSE(score.from_cache()) << "the cache holds sums only";
    const at::Tensor tokens = UnpackFloat32(score.token_log_probs(), "token_log_probs");
    ASSERT_EQ(tokens.numel(), score.completion_tokens());
    EXPECT_NEAR(tokens.sum().item<double>(), score.sum_log_prob(), 1e-4);
    std::vector<int64_t> ids(sequence.token_ids().begin(), sequence.token_ids().end());
    torch::NoGradGuard no_grad;
    const at::Tensor log_probs =
        torch::log_softmax(reference_.model->Logits(torch::tensor(ids).unsqueeze(0)).squeeze(0), -1);  // (T, V)
    for (int64_t k = 0; k < tokens.numel(); ++k) {
      const int64_t position = sequence.completion_start() + k;
      EXPECT_NEAR(tokens[k].item<double>(), log_probs[position - 1][ids[static_cast<std::size_t>(position)]].item<double>(),
                  1e-5)
          << i << " " << k;
    }
  }
}

TEST_F(ScoreEngineTest, BadRequestsGetValidationCodesAndAreCounted) {
  ScoreEngine engine(reference_, cache_.get(), Batcher(), ScoreLimits{});
  const std::vector<v1::Sequence> sequences = RandomSequences(2, 10, 23);
  struct Case {
    const char* name;
    std::function<void(v1::ScoreRequest&)> damage;
    EngineCode code;
    const char* message_start;
  };
  const std::vector<Case> cases = {
      {"empty batch", [](v1::ScoreRequest& r) { r.clear_sequences(); }, EngineCode::kInvalidArgument,
       "sequences: empty batch"},
      {"wrong fingerprint", [](v1::ScoreRequest& r) { r.set_expected_fingerprint(std::string(64, 'b')); },
       EngineCode::kFailedPrecondition, "expected_fingerprint: the client expects model bbbb"},
      {"token outside vocabulary", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_token_ids(0, 259); },
       EngineCode::kInvalidArgument, "sequences[1].token_ids[0]: 259 outside the vocabulary [0, 259)"},
      {"too long", [](v1::ScoreRequest& r) { for (int t = 0; t < 64; ++t) r.mutable_sequences(0)->add_token_ids(1); },
       EngineCode::kOutOfRange, "sequences[0].token_ids: "},
  };
  for (const Case& c : cases) {
    v1::ScoreRequest request = Request(sequences);
    c.damage(request);
    v1::ScoreResponse response;
    const EngineStatus status = Score(engine, request, &response);
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status.message();
    EXPECT_EQ(status.message().rfind(c.message_start, 0), 0U) << c.name << ": " << status.message();
    EXPECT_EQ(response.scores_size(), 0) << c.name;
  }
  v1::ScoreResponse response;
  EXPECT_TRUE(Score(engine, Request(sequences), &response).ok());  // still serving
  EXPECT_EQ(engine.Stats().requests, cases.size() + 1);
  EXPECT_EQ(engine.Stats().requests_failed, cases.size());
}

TEST_F(ScoreEngineTest, AfterShutdownMissesAreUnavailableButHitsStillAnswer) {
  const std::vector<v1::Sequence> sequences = RandomSequences(2, 10, 25);
  ScoreEngine engine(reference_, cache_.get(), Batcher(), ScoreLimits{});
  v1::ScoreResponse warm;
  ASSERT_TRUE(Score(engine, Request({sequences[0]}), &warm).ok());
  engine.Shutdown();
  v1::ScoreResponse response;
  EXPECT_EQ(Score(engine, Request(sequences), &response).code(), EngineCode::kUnavailable);
  EXPECT_EQ(response.scores_size(), 0);
  v1::ScoreResponse cached;
  ASSERT_TRUE(Score(engine, Request({sequences[0]}), &cached).ok());
  EXPECT_TRUE(cached.scores(0).from_cache());
}

}  // namespace
}  // namespace dpo
