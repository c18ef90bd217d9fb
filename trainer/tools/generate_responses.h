// Sampling responses for a prompts file: the library behind dpo-generate. Prompts go through the
// training prompt path (SequenceBuilder: BOS, max_prompt_length truncation) before generation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/data_options.h"
#include "core/model/generation.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

class CausalLm;

struct GenerateResponsesOptions {
  SamplingOptions sampling;        // sampling.seed is the run's seed; prompt i uses DeriveSeed(seed, i)
  int64_t samples_per_prompt = 1;  // >= 1; decoded as one batch per prompt
  DataOptions data;                // max_prompt_length and truncation_mode of the prompt path
};

// One prompt row of the input ({"prompt"}; other keys are ignored).
struct PromptRow {
  std::string place;  // "path:line", for errors
  std::string prompt;
};

// Reads {"prompt"} rows. Throws Error(kInvalidInput) naming `path:line` and the field, or when the
// file has no rows.
std::vector<PromptRow> ReadPromptRows(const std::string& path);

// For every prompt, samples_per_prompt rows {"prompt","response","sample","finish_reason"} as
// JSON lines, prompt by prompt in file order. response = tokenizer.Decode(new ids): EOS is never
// part of it; invalid UTF-8 from sampled bytes becomes U+FFFD in the JSON. Prompt i's samples
// depend only on (model, prompt, options, i), not on the other prompts. Throws Error(kInvalidInput)
// for invalid options, a tokenizer whose vocabulary exceeds the model's, or a prompt that fills
// the model's n_positions (prefixed with the prompt's place).
std::vector<std::string> GenerateResponses(CausalLm& model, const Tokenizer& tokenizer,
                                           const std::vector<PromptRow>& prompts,
                                           const GenerateResponsesOptions& options);

}  // namespace dpo
