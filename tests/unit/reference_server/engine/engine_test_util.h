// Shared pieces of the engine tests: a tiny random reference model, random wire sequences, and
// the direct computation every batched score is compared with.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "core/model/fingerprint.h"
#include "core/tokenizer/tokenizer.h"
#include "dpo/v1/reference_service.pb.h"
#include "reference_server/engine/reference_model.h"
#include "tests/support/test_support.h"

namespace dpo::testing {

// A frozen tiny GPT-2 (byte vocabulary, 64 positions) with its fingerprint.
inline LoadedReferenceModel TinyReference(uint64_t seed = 3) {
  LoadedReferenceModel loaded;
  loaded.model = CreateCausalLm(TinyGpt2Config(), seed);
  loaded.tokenizer = CreateTokenizer("byte");
  loaded.fingerprint = ModelFingerprint(*loaded.model, loaded.tokenizer->Name());
  return loaded;
}

// `count` valid sequences of 2..max_length tokens with a random completion start.
inline std::vector<v1::Sequence> RandomSequences(int count, int max_length, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<v1::Sequence> sequences(static_cast<std::size_t>(count));
  for (v1::Sequence& sequence : sequences) {
    const int length = std::uniform_int_distribution<int>(2, max_length)(random);
    for (int t = 0; t < length; ++t) sequence.add_token_ids(std::uniform_int_distribution<int>(0, 258)(random));
    sequence.set_completion_start(std::uniform_int_distribution<int>(1, length - 1)(random));
  }
  return sequences;
}

// The sequence alone, (1, T) without padding, through the core function: the reference value.
inline float DirectScore(CausalLm& model, const v1::Sequence& sequence) {
  const int64_t length = sequence.token_ids_size();
  std::vector<int64_t> ids(sequence.token_ids().begin(), sequence.token_ids().end());
  const at::Tensor input_ids = torch::tensor(ids, torch::kInt64).reshape({1, length});
  at::Tensor mask = torch::zeros({1, length}, torch::kBool);
  mask.index_put_({0, torch::indexing::Slice(sequence.completion_start(), length)}, true);
  torch::NoGradGuard no_grad;
  return ComputeSequenceLogProbs(model, input_ids, mask).sum_log_probs[0].item<float>();
}

}  // namespace dpo::testing
