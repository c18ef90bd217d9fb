// Tests of ValidateScoreRequest: every bad-request kind with its exact status code and message.
#include "reference_server/engine/request_validation.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace dpo {
namespace {

const std::string kFingerprint(64, 'a');

ScoreLimits Limits() {
  ScoreLimits limits;
  limits.vocab_size = 100;
  limits.max_sequence_length = 8;
  limits.max_request_tokens = 20;
  return limits;
}

// Two valid sequences: [1 2 3 | 4 5] and [6 | 7].
v1::ScoreRequest ValidRequest() {
  v1::ScoreRequest request;
  request.set_expected_fingerprint(kFingerprint);
  v1::Sequence* first = request.add_sequences();
  for (int id : {1, 2, 3, 4, 5}) first->add_token_ids(id);
  first->set_completion_start(3);
  v1::Sequence* second = request.add_sequences();
  for (int id : {6, 7}) second->add_token_ids(id);
  second->set_completion_start(1);
  return request;
}

TEST(RequestValidationTest, ValidRequestPasses) {
  const EngineStatus status = ValidateScoreRequest(ValidRequest(), kFingerprint, Limits());
  EXPECT_TRUE(status.ok()) << status.message();
  v1::ScoreRequest edge = ValidRequest();  // ids 0 and vocab - 1, exactly max length and total
  edge.mutable_sequences(0)->set_token_ids(0, 0);
  edge.mutable_sequences(0)->set_token_ids(4, 99);
  for (int id : {8, 9, 10}) edge.mutable_sequences(0)->add_token_ids(id);
  ScoreLimits limits = Limits();
  limits.max_request_tokens = 10;
  EXPECT_TRUE(ValidateScoreRequest(edge, kFingerprint, limits).ok());
}

TEST(RequestValidationTest, EveryBadRequestKindHasItsCodeAndField) {
  struct Case {
    const char* name;
    std::function<void(v1::ScoreRequest&)> mutate;
    EngineCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty fingerprint", [](v1::ScoreRequest& r) { r.clear_expected_fingerprint(); },
       EngineCode::kInvalidArgument,
       "expected_fingerprint: empty; send ModelInfo.fingerprint from GetModelInfo (" + kFingerprint + ")"},
      {"fingerprint mismatch", [](v1::ScoreRequest& r) { r.set_expected_fingerprint(std::string(64, 'b')); },
       EngineCode::kFailedPrecondition,
       "expected_fingerprint: the client expects model " + std::string(64, 'b') + " but this server serves model " +
           kFingerprint},
      {"empty batch", [](v1::ScoreRequest& r) { r.clear_sequences(); }, EngineCode::kInvalidArgument,
       "sequences: empty batch"},
      {"request too large",
       [](v1::ScoreRequest& r) {
         for (int k = 0; k < 7; ++k) *r.add_sequences() = r.sequences(1);  // 5 + 8 * 2 = 21 tokens
       },
       EngineCode::kResourceExhausted,
       "sequences: 21 tokens in total exceed max_request_tokens=20; split the batch"},
      {"sequence too long",
       [](v1::ScoreRequest& r) {
         for (int id : {1, 1, 1, 1}) r.mutable_sequences(0)->add_token_ids(id);
       },
       EngineCode::kOutOfRange, "sequences[0].token_ids: 9 tokens exceed max_sequence_length=8"},
      {"completion start zero", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_completion_start(0); },
       EngineCode::kOutOfRange,
       "sequences[1].completion_start: 0 outside [1, 2) for a sequence of 2 tokens (the first token has no "
       "prediction; the completion needs a token)"},
      {"completion start negative", [](v1::ScoreRequest& r) { r.mutable_sequences(0)->set_completion_start(-3); },
       EngineCode::kOutOfRange,
       "sequences[0].completion_start: -3 outside [1, 5) for a sequence of 5 tokens (the first token has no "
       "prediction; the completion needs a token)"},
      {"completion start at the end", [](v1::ScoreRequest& r) { r.mutable_sequences(0)->set_completion_start(5); },
       EngineCode::kOutOfRange,
       "sequences[0].completion_start: 5 outside [1, 5) for a sequence of 5 tokens (the first token has no "
       "prediction; the completion needs a token)"},
      {"single-token sequence", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->mutable_token_ids()->RemoveLast(); },
       EngineCode::kOutOfRange,
       "sequences[1].completion_start: 1 outside [1, 1) for a sequence of 1 tokens (the first token has no "
       "prediction; the completion needs a token)"},
      {"token id at vocab size", [](v1::ScoreRequest& r) { r.mutable_sequences(1)->set_token_ids(1, 100); },
       EngineCode::kInvalidArgument, "sequences[1].token_ids[1]: 100 outside the vocabulary [0, 100)"},
      {"negative token id", [](v1::ScoreRequest& r) { r.mutable_sequences(0)->set_token_ids(2, -1); },
       EngineCode::kInvalidArgument, "sequences[0].token_ids[2]: -1 outside the vocabulary [0, 100)"},
  };
  for (const Case& c : cases) {
    v1::ScoreRequest request = ValidRequest();
    c.mutate(request);
    const EngineStatus status = ValidateScoreRequest(request, kFingerprint, Limits());
    EXPECT_EQ(status.code(), c.code) << c.name;
    EXPECT_EQ(status.message(), c.message) << c.name;
  }
}

TEST(RequestValidationTest, FingerprintIsCheckedBeforeTheContents) {
  v1::ScoreRequest request = ValidRequest();
  request.set_expected_fingerprint("other");
  request.mutable_sequences(0)->set_token_ids(0, 1000);
  EXPECT_EQ(ValidateScoreRequest(request, kFingerprint, Limits()).code(),
            EngineCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dpo
