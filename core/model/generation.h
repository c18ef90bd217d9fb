// Autoregressive generation from a CausalLm over its KV cache: greedy, temperature, top-k and
// top-p (nucleus) sampling, deterministic for a seed. Used by dpo-generate and the evaluation
// tools; training never calls it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

class CausalLm;

struct SamplingOptions {
  int64_t max_new_tokens = 64;  // >= 1; EOS, when sampled, is not counted in the result
  double temperature = 1.0;     // >= 0; 0 = greedy (argmax; top_k and top_p are then ignored)
  int64_t top_k = 0;            // >= 0; keep the k most likely tokens (0 = all)
  double top_p = 1.0;           // in (0, 1]; keep the smallest most-likely set with mass >= top_p
  uint64_t seed = 0;            // seeds a generator owned by the call (the global one is untouched)

  // Every problem at once, each naming the option, its value and the limit, e.g.
  // `top_p=0 must be in (0, 1]`. Empty when valid.
  std::vector<std::string> Validate() const;
};

enum class FinishReason {
  kEos,           // the model sampled EOS
  kMaxNewTokens,  // max_new_tokens were generated
  kContextFull,   // prompt + generated tokens reached the model's n_positions
};
// "eos", "max_new_tokens", "context_full".
const char* FinishReasonName(FinishReason reason);

struct GeneratedSequence {
  std::vector<TokenId> ids;  // the new tokens, EOS excluded
  FinishReason finish_reason = FinishReason::kMaxNewTokens;
};

// `num_samples` independent continuations of one prompt, decoded as one batch: the prompt is
// prefilled once and its KV cache shared; finished rows leave the batch. Sampling order per step:
// logits / temperature, then top-k, then top-p, then one draw per row from the seeded generator
// (float64 probabilities, sampled on the CPU whatever the model's device). Output depends only on
// (model, prompt, options, num_samples). The model is run in eval mode under NoGradGuard and its
// train/eval mode is restored on return.
// prompt_ids: the ids exactly as the model saw them in training (with BOS; see
// SequenceBuilder::PromptFromText). At most n_positions - len(prompt) tokens are generated.
// Throws Error(kInvalidInput) for invalid options, num_samples < 1, an empty prompt, ids or
// eos_id outside [0, vocab_size), or a prompt that leaves no room in n_positions.
std::vector<GeneratedSequence> GenerateSamples(CausalLm& model, const std::vector<TokenId>& prompt_ids, TokenId eos_id,
                                               const SamplingOptions& options, int64_t num_samples);

// One continuation: the new token ids, EOS excluded. Equals GenerateSamples(..., 1)[0].ids.
std::vector<TokenId> Generate(CausalLm& model, const std::vector<TokenId>& prompt_ids, TokenId eos_id,
                              const SamplingOptions& options);

}  // namespace dpo
