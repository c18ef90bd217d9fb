// Prompts file -> sampled responses, one prompt (and its batch of samples) at a time.
#include "trainer/tools/generate_responses.h"

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/data/sequence_builder.h"
#include "core/model/causal_lm.h"
#include "trainer/tools/jsonl_io.h"
#include "trainer/tools/split_mix64.h"

namespace dpo {

std::vector<PromptRow> ReadPromptRows(const std::string& path) {
  std::vector<PromptRow> prompts;
  for (const JsonlRow& row : ReadJsonlRows(path)) {
    const auto object = ParseJsonlObject(path, row);
    const std::string place = RowPlace(path, row);
    prompts.push_back({place, RequireStringField(object, "prompt", place)});
  }
  if (prompts.empty()) throw InvalidInput(path + ": no prompts");
  return prompts;
}

std::vector<std::string> GenerateResponses(CausalLm& model, const Tokenizer& tokenizer,
                                           const std::vector<PromptRow>& prompts,
                                           const GenerateResponsesOptions& options) {
  if (options.samples_per_prompt < 1) {
    throw InvalidInput("--samples-per-prompt=" + std::to_string(options.samples_per_prompt) + " must be >= 1");
  }
  if (tokenizer.VocabSize() > model.config().vocab_size) {
    throw InvalidInput("tokenizer \"" + tokenizer.Name() + "\" has " + std::to_string(tokenizer.VocabSize()) +
                       " ids but the model's vocab_size=" + std::to_string(model.config().vocab_size));
  }
  const SequenceBuilder builder(tokenizer, options.data);
  std::vector<std::string> lines;
  for (size_t i = 0; i < prompts.size(); ++i) {
    // The training prompt path: BOS + ids, then max_prompt_length truncation.
    const std::vector<TokenId> prompt_ids = builder.TruncatePrompt(builder.PromptFromText(prompts[i].prompt));
    SamplingOptions sampling = options.sampling;
    sampling.seed = DeriveSeed(options.sampling.seed, i);
    std::vector<GeneratedSequence> samples;
    try {
      samples = GenerateSamples(model, prompt_ids, tokenizer.EosId(), sampling, options.samples_per_prompt);
    } catch (const Error& e) {
      throw Error(e.kind(), prompts[i].place + ": " + e.what());
    }
    for (size_t k = 0; k < samples.size(); ++k) {
      nlohmann::ordered_json row;
      row["prompt"] = prompts[i].prompt;
      row["response"] = tokenizer.Decode(samples[k].ids);
      row["sample"] = k;
      row["finish_reason"] = FinishReasonName(samples[k].finish_reason);
      lines.push_back(ToJsonLine(row));
    }
  }
  return lines;
}

}  // namespace dpo
