// dpo-generate: sample responses for a prompts file from a model directory; prompts go through
// the training prompt path (BOS, truncation). trainer/tools/generate_responses.h does the work.
//   dpo-generate --model DIR --prompts FILE [--out FILE] [--max-new-tokens N] [--temperature T] ...
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/common/run_main.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"
#include "trainer/tools/generate_responses.h"
#include "trainer/tools/jsonl_io.h"

int main(int argc, char** argv) {
  CLI::App app{"dpo-generate: sample responses from a causal LM for JSONL prompts {\"prompt\"}"};
  app.option_defaults()->always_capture_default();
  std::string model_dir, prompts_path, out_path, truncation_mode = "keep_end";
  dpo::GenerateResponsesOptions options;
  dpo::SamplingOptions& sampling = options.sampling;
  app.add_option("--model", model_dir, "model directory (config.json, model.safetensors, dpo_tokenizer.json)")
      ->required();
  app.add_option("--prompts", prompts_path, "JSONL rows {\"prompt\": text}")->required();
  app.add_option("--out", out_path,
                 "JSONL rows {prompt, response, sample, finish_reason}; stdout when absent or \"-\"");
  app.add_option("--max-new-tokens", sampling.max_new_tokens, "new tokens per response (EOS not counted)");
  app.add_option("--temperature", sampling.temperature, "softmax temperature; 0 = greedy");
  app.add_option("--top-k", sampling.top_k, "keep the k most likely tokens; 0 = all");
  app.add_option("--top-p", sampling.top_p, "nucleus mass in (0, 1]");
  app.add_option("--seed", sampling.seed, "run seed; prompt i samples with a seed derived from (seed, i)");
  app.add_option("--samples-per-prompt", options.samples_per_prompt, "responses per prompt (one batch)");
  app.add_option("--max-prompt-length", options.data.max_prompt_length, "prompt tokens (BOS included), as in training");
  app.add_option("--truncation-mode", truncation_mode, "keep_end or keep_start, as in training");
  CLI11_PARSE(app, argc, argv);

  return dpo::RunMain("dpo-generate", [&] {
    options.data.truncation_mode = dpo::ParseTruncationMode(truncation_mode);
    dpo::ThrowIfProblems("invalid sampling options:", sampling.Validate());
    const auto prompts = dpo::ReadPromptRows(prompts_path);
    const auto tokenizer = dpo::LoadTokenizerForModel(model_dir, "byte");
    const auto model = dpo::LoadModelDirectory(model_dir);
    const auto lines = dpo::GenerateResponses(*model, *tokenizer, prompts, options);
    dpo::WriteLines(out_path, lines);
    std::cerr << "dpo-generate: " << lines.size() << " responses for " << prompts.size() << " prompts\n";
    return 0;
  });
}
