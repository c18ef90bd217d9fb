// dpo-data: synthetic preference tasks with a ground-truth reward (docs/synthetic-task.md), and
// tools to inspect data: how the trainer renders each row, how a tokenizer splits text.
//   dpo-data synth   --task words --pairs N --seed S --out DIR
//   dpo-data render  --config job.yaml [--data FILE] [--rows N] [--format json|text] [--out F]
//   dpo-data reward  --task words --in FILE [--out FILE]
//   dpo-data compare --task words --a FILE --b FILE
//   dpo-data tokenize --tokenizer DIR --text-file FILE [--decode] [--add-bos] [--add-eos] [--out FILE]
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/run_main.h"
#include "trainer/tools/jsonl_io.h"
#include "trainer/tools/render_rows.h"
#include "trainer/tools/synthetic_eval.h"
#include "trainer/tools/synthetic_task.h"
#include "trainer/tools/tokenize_text.h"

int main(int argc, char** argv) {
  CLI::App app{"dpo-data: synthetic preference data with a ground-truth reward, its evaluation, rows as the trainer sees them, and tokenisation"};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  std::string task_name = "words", out, in, a_path, b_path;
  int64_t pairs = 2000;
  uint64_t seed = 0;

  CLI::App* synth = app.add_subcommand("synth", "write train/eval/sft.jsonl, prompts.jsonl and task.json into --out");
  synth->add_option("--task", task_name, "task name (words)");
  synth->add_option("--pairs", pairs, "train pairs (eval gets ceil(pairs/10), sft gets pairs)");
  synth->add_option("--seed", seed, "generator seed: same seed, same files");
  synth->add_option("--out", out, "output directory")->required();

  CLI::App* reward = app.add_subcommand("reward", "ground-truth reward of {prompt,response} rows; summary on stdout");
  reward->add_option("--task", task_name, "task name (words)");
  reward->add_option("--in", in, "JSONL rows {prompt, response} (dpo-generate's output)")->required();
  reward->add_option(
      "--out", out,
      "scored rows (input + reward, well_formed); not written when absent; \"-\" = stdout (summary then on stderr)");

  CLI::App* compare = app.add_subcommand("compare", "mean rewards of two response files and the win rate of a over b");
  compare->add_option("--task", task_name, "task name (words)");
  compare->add_option("--a", a_path, "JSONL rows {prompt, response}")->required();
  compare->add_option("--b", b_path, "JSONL rows {prompt, response}")->required();

  std::string tokenizer_spec, text_file;
  dpo::TokenizeTextOptions tokenize_options;
  bool decode = false;
  CLI::App* tokenize = app.add_subcommand(
      "tokenize", "one JSON array of token ids per text line (--decode: the reverse), to inspect tokenisation");
  tokenize->add_option("--tokenizer", tokenizer_spec,
                       "model directory (dpo_tokenizer.json or HF tokenizer.json), tokenizer.json file, or byte")
      ->required();
  tokenize->add_option("--text-file", text_file, "input: text lines, or with --decode JSON arrays of ids")->required();
  tokenize->add_flag("--decode", decode, "decode JSON arrays of ids into text lines");
  tokenize->add_flag("--add-bos", tokenize_options.add_bos, "prepend the BOS id to every line");
  tokenize->add_flag("--add-eos", tokenize_options.add_eos, "append the EOS id to every line");
  tokenize->add_option("--out", out, "output file; \"-\" or absent = stdout (the summary then goes to stderr)");
  std::string config_path;
  std::vector<std::string> overrides;
  dpo::RenderOptions render_options;
  std::string render_format = "json";
  CLI::App* render = app.add_subcommand(
      "render", "each row as the trainer will see it: ids, decoded parts, truncation, drops (the trainer's own loader)");
  render->add_option("--config", config_path, "job file (YAML): its tokenizer, chat template and data options")->required();
  render->add_option("--set", overrides, "override one key: section.key=value (repeatable)");
  render->add_option("--data", render_options.data, "preference JSONL; default: the job's data.train");
  render->add_option("--rows", render_options.rows, "the first N non-blank rows; -1 = all");
  render->add_option("--format", render_format, "json (one object per row) or text (a human view)")
      ->check(CLI::IsMember({"json", "text"}));
  render->add_option("--out", out, "output file; \"-\" or absent = stdout (the summary then goes to stderr)");
  app.footer(
      "Output: one JSON line on stdout (tokenize: one line per input line). compare's win_rate_a_over_b is the mean over common prompts of\n"
      "P(reward(a) > reward(b)) + 0.5 P(equal) over every pair of their responses (ties count half).");
  CLI11_PARSE(app, argc, argv);

  return dpo::RunMain("dpo-data", [&] {
    if (render->parsed()) {
      render_options.format = render_format == "text" ? dpo::RenderFormat::kText : dpo::RenderFormat::kJson;
      const dpo::RenderedRows rendered = dpo::RenderRows(dpo::JobConfig::Load(config_path, overrides), render_options);
      dpo::WriteLines(out, rendered.lines);
      const nlohmann::ordered_json summary{{"rows", rendered.rows},
                                           {"kept", rendered.kept},
                                           {"dropped", rendered.dropped},
                                           {"invalid", rendered.invalid}};
      (dpo::IsStdoutPath(out) ? std::cerr : std::cout) << dpo::ToJsonLine(summary) << "\n";
      return 0;
    }
    if (tokenize->parsed()) {
      const auto tokenizer = dpo::LoadTokenizerArgument(tokenizer_spec);
      const std::string text = dpo::ReadFile(text_file);
      const dpo::TokenizeTextResult result =
          decode ? dpo::DecodeIdLines(*tokenizer, text, text_file)
                 : dpo::TokenizeTextLines(*tokenizer, text, text_file, tokenize_options);
      dpo::WriteLines(out, result.lines);
      const nlohmann::ordered_json summary{{"tokenizer", tokenizer->Name()},
                                           {"lines", result.lines.size()},
                                           {"tokens", result.tokens}};
      (dpo::IsStdoutPath(out) ? std::cerr : std::cout) << dpo::ToJsonLine(summary) << "\n";
      return 0;
    }
    const dpo::SyntheticTask& task = dpo::FindSyntheticTask(task_name);
    if (synth->parsed()) {
      const dpo::SyntheticData data = dpo::GenerateSyntheticData(task, pairs, seed);
      dpo::WriteSyntheticData(task, data, seed, out);
      nlohmann::ordered_json summary{{"task", task.name}, {"out", out}, {"seed", seed}};
      summary["counts"] = {{"train", data.train.size()},
                           {"eval", data.eval.size()},
                           {"sft", data.sft.size()},
                           {"prompts", data.prompts.size()}};
      std::cout << dpo::ToJsonLine(summary) << "\n";
    } else if (reward->parsed()) {
      const dpo::ResponseFileScores scores = dpo::ScoreResponseFile(task, in);
      if (!out.empty()) dpo::WriteLines(out, scores.scored_lines);
      (out == "-" ? std::cerr : std::cout) << dpo::RewardSummaryJson(task, scores) << "\n";
    } else {
      const auto a = dpo::ScoreResponseFile(task, a_path), b = dpo::ScoreResponseFile(task, b_path);
      std::cout << dpo::ComparisonJson(task, a, b, dpo::CompareResponses(a, b)) << "\n";
    }
    return 0;
  });
}
