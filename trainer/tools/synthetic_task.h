// Synthetic preference tasks whose ground-truth reward is computable from the response text
// alone, so DPO runs can be checked end to end (docs/synthetic-task.md): pair data for training,
// held-out prompts for generation, and the reward that scores what a policy generates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// Task "words": prompts "Describe the <topic>:", responses " w1 w2 w3 w4." of words from a fixed
// list; reward = sum of word scores (helpful +1, harmful -1, neutral 0, unknown 0). The reward
// ignores the prompt, so held-out prompts use topics the training data never shows.
struct SyntheticTask {
  std::string name;
  std::string prompt_prefix;  // prompt = prefix + topic + suffix
  std::string prompt_suffix;
  std::vector<std::string> train_topics;    // topics of train / eval / sft rows
  std::vector<std::string> heldout_topics;  // topics of prompts.jsonl only
  std::vector<std::string> helpful_words;   // score +1
  std::vector<std::string> harmful_words;   // score -1
  std::vector<std::string> neutral_words;   // score 0
  int64_t response_words = 4;

  std::string Prompt(const std::string& topic) const { return prompt_prefix + topic + prompt_suffix; }
  // Every scored word: helpful, then harmful, then neutral.
  std::vector<std::string> Vocabulary() const;
  // The score of one word (ASCII case-insensitive); 0 for unknown words.
  int WordScore(std::string_view word) const;
  // Ground truth: the sum of WordScore over the words of `text`, where a word is a maximal run of
  // ASCII letters. Any text can be scored: other characters only separate words.
  double Reward(std::string_view text) const;
  // True when `text` is exactly " w1 ... wn." with n = response_words task words, lower case
  // (the format of every response in the data). A diagnostic, not part of the reward.
  bool WellFormed(std::string_view text) const;
  // " w1 w2 w3 w4." for the given words.
  std::string Response(const std::vector<std::string>& words) const;
};

// The task named `name` ("words"). Throws Error(kInvalidInput) naming the value and the
// supported tasks.
const SyntheticTask& FindSyntheticTask(const std::string& name);

struct PreferenceText {
  std::string prompt;
  std::string chosen;
  std::string rejected;
};

// Everything `dpo-data synth` writes.
struct SyntheticData {
  std::vector<PreferenceText> train;  // `pairs` rows: chosen has the strictly higher reward
  std::vector<PreferenceText> eval;   // ceil(pairs / 10) rows, drawn like train
  // `pairs` rows for an SFT warm-up (loss_type sft reads only prompt + chosen): chosen is a
  // uniformly random response, so SFT teaches the format without the preference; rejected is
  // another random response, different from chosen so that the reader keeps the row.
  std::vector<PreferenceText> sft;
  std::vector<std::string> prompts;  // one per held-out topic
};

// Draws the splits from `seed` with SplitMix64 (one derived stream per split): the same
// (task, pairs, seed) gives the same data on every platform. Pairs: topic uniform over
// train_topics; two responses of response_words words drawn uniformly with replacement; both
// redrawn while their rewards tie. Throws Error(kInvalidInput) unless 1 <= pairs <= 10,000,000.
SyntheticData GenerateSyntheticData(const SyntheticTask& task, int64_t pairs, uint64_t seed);

// Writes train.jsonl, eval.jsonl, sft.jsonl ({"prompt","chosen","rejected"}), prompts.jsonl
// ({"prompt"}) and task.json (task, seed, counts, topics, word lists) into `directory`, creating
// it; each file atomically. Throws Error(kInternal) on I/O failure.
void WriteSyntheticData(const SyntheticTask& task, const SyntheticData& data, uint64_t seed,
                        const std::string& directory);

}  // namespace dpo
