// dpo-reward: implicit DPO rewards beta * (log pi - log pi_ref) of responses or preference pairs
// under a policy / reference checkpoint pair (trainer/tools/reward_scoring.h does the work).
//   dpo-reward --policy DIR --reference DIR --data FILE [--out FILE] [--beta B] ...
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "core/common/error.h"
#include "core/common/run_main.h"
#include "core/model/causal_lm.h"
#include "trainer/tools/jsonl_io.h"
#include "trainer/tools/reward_scoring.h"

int main(int argc, char** argv) {
  CLI::App app{"dpo-reward: implicit DPO rewards beta * (log pi(y|x) - log pi_ref(y|x)) of a JSONL file"};
  app.option_defaults()->always_capture_default();
  std::string policy_dir, reference_dir, data_path, out_path, truncation_mode = "keep_end";
  dpo::RewardScoringOptions options;
  int64_t max_length = 0;
  app.add_option("--policy", policy_dir, "policy model directory (config.json + model.safetensors)")->required();
  app.add_option("--reference", reference_dir, "reference model directory (same tokenizer)")->required();
  app.add_option("--data", data_path, "JSONL rows {prompt,response} and/or {prompt,chosen,rejected}")->required();
  app.add_option("--out", out_path, "scored rows (JSONL); stdout when absent or \"-\"");
  app.add_option("--beta", options.beta, "reward scale");
  app.add_option("--batch-size", options.batch_size, "sequences per forward");
  app.add_option("--max-length", max_length, "prompt + completion tokens, as in training")
      ->default_str("min(1024, the model's maximum positions)");
  app.add_option("--max-prompt-length", options.data.max_prompt_length, "prompt tokens, as in training");
  app.add_option("--truncation-mode", truncation_mode, "keep_end or keep_start, as in training");
  app.footer(
      "Completions are scored with EOS appended and truncated exactly as in training. The last line\n"
      "is a JSON summary {file, rows, response_rows, pair_rows, beta, mean_reward, reward_accuracy,\n"
      "mean_margin, mean_chosen_reward, mean_rejected_reward}: on stdout when --out names a file,\n"
      "on stderr when the rows go to stdout. reward_accuracy counts chosen_reward > rejected_reward.");
  CLI11_PARSE(app, argc, argv);

  return dpo::RunMain("dpo-reward", [&] {
    options.data.truncation_mode = dpo::ParseTruncationMode(truncation_mode);
    const dpo::ScoringModels models = dpo::LoadScoringModels(policy_dir, reference_dir);
    options.data.max_length =
        max_length > 0 ? max_length : std::min<int64_t>(1024, models.policy->config().max_positions);
    dpo::RewardScorer scorer(*models.policy, *models.reference, *models.tokenizer, options);
    const dpo::ScoredRewardFile scored = dpo::ScoreRewardFile(scorer, data_path);
    dpo::WriteLines(out_path, scored.lines);
    (dpo::IsStdoutPath(out_path) ? std::cerr : std::cout) << scored.summary.ToJson() << "\n";
    return 0;
  });
}
