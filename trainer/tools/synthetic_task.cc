// The "words" task: its definition, ground-truth reward and deterministic data generation.
#include "trainer/tools/synthetic_task.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "trainer/tools/jsonl_io.h"
#include "trainer/tools/split_mix64.h"

namespace dpo {
namespace {

constexpr int64_t kMaxPairs = 10'000'000;
// One stream per split, so that e.g. the eval rows do not shift when the seed's train draws do.
constexpr uint64_t kTrainStream = 1, kEvalStream = 2, kSftStream = 3;

SyntheticTask MakeWordsTask() {
  SyntheticTask task;
  task.name = "words";
  task.prompt_prefix = "Describe the ";
  task.prompt_suffix = ":";
  task.train_topics = {"river",  "garden", "city",   "forest",  "market",  "harbor",
                       "school", "bridge", "museum", "kitchen", "library", "village"};
  task.heldout_topics = {"desert", "island", "castle", "station", "meadow", "factory", "temple", "canyon"};
  // Distinct first letters: a byte-level model can tell the words apart from their first byte.
  task.helpful_words = {"clear", "honest", "kind", "useful"};
  task.harmful_words = {"rude", "toxic", "vague", "mean"};
  task.neutral_words = {"blue", "green", "square", "wooden"};
  task.response_words = 4;
  return task;
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool Contains(const std::vector<std::string>& words, std::string_view word) {
  for (const auto& candidate : words) {
    if (candidate == word) return true;
  }
  return false;
}

std::string RandomResponse(const SyntheticTask& task, const std::vector<std::string>& vocabulary, SplitMix64& rng) {
  std::vector<std::string> words;
  for (int64_t i = 0; i < task.response_words; ++i) words.push_back(vocabulary[rng.UniformBelow(vocabulary.size())]);
  return task.Response(words);
}

std::string RandomPrompt(const SyntheticTask& task, SplitMix64& rng) {
  return task.Prompt(task.train_topics[rng.UniformBelow(task.train_topics.size())]);
}

// Preference pairs: both responses redrawn while their rewards tie; chosen = the higher reward.
std::vector<PreferenceText> DrawPairs(const SyntheticTask& task, int64_t count, uint64_t seed) {
  const auto vocabulary = task.Vocabulary();
  SplitMix64 rng(seed);
  std::vector<PreferenceText> rows;
  rows.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    PreferenceText row{RandomPrompt(task, rng), "", ""};
    std::string a, b;
    do {
      a = RandomResponse(task, vocabulary, rng);
      b = RandomResponse(task, vocabulary, rng);
    } while (task.Reward(a) == task.Reward(b));
    const bool a_wins = task.Reward(a) > task.Reward(b);
    row.chosen = a_wins ? a : b;
    row.rejected = a_wins ? b : a;
    rows.push_back(std::move(row));
  }
  return rows;
}

// SFT rows: chosen uniformly random (no preference); rejected only has to differ from it.
std::vector<PreferenceText> DrawSftRows(const SyntheticTask& task, int64_t count, uint64_t seed) {
  const auto vocabulary = task.Vocabulary();
  SplitMix64 rng(seed);
  std::vector<PreferenceText> rows;
  rows.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    PreferenceText row{RandomPrompt(task, rng), RandomResponse(task, vocabulary, rng), ""};
    do {
      row.rejected = RandomResponse(task, vocabulary, rng);
    } while (row.rejected == row.chosen);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> PairLines(const std::vector<PreferenceText>& rows) {
  std::vector<std::string> lines;
  lines.reserve(rows.size());
  for (const auto& row : rows) {
    nlohmann::ordered_json object;
    object["prompt"] = row.prompt;
    object["chosen"] = row.chosen;
    object["rejected"] = row.rejected;
    lines.push_back(ToJsonLine(object));
  }
  return lines;
}

}  // namespace

std::vector<std::string> SyntheticTask::Vocabulary() const {
  std::vector<std::string> words = helpful_words;
  words.insert(words.end(), harmful_words.begin(), harmful_words.end());
  words.insert(words.end(), neutral_words.begin(), neutral_words.end());
  return words;
}

int SyntheticTask::WordScore(std::string_view word) const {
  std::string lower(word);
  for (char& c : lower) c = AsciiLower(c);
  if (Contains(helpful_words, lower)) return 1;
  if (Contains(harmful_words, lower)) return -1;
  return 0;
}

double SyntheticTask::Reward(std::string_view text) const {
  double reward = 0.0;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsAsciiLetter(text[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text.size() && IsAsciiLetter(text[i])) ++i;
    reward += WordScore(text.substr(start, i - start));
  }
  return reward;
}

bool SyntheticTask::WellFormed(std::string_view text) const {
  if (text.size() < 2 || text.back() != '.') return false;
  const auto vocabulary = Vocabulary();
  int64_t count = 0;
  size_t i = 0;
  const size_t end = text.size() - 1;  // the final '.'
  while (i < end) {
    if (text[i] != ' ') return false;
    const size_t start = ++i;
    while (i < end && text[i] != ' ') ++i;
    if (!Contains(vocabulary, text.substr(start, i - start))) return false;
    ++count;
  }
  return count == response_words;
}

std::string SyntheticTask::Response(const std::vector<std::string>& words) const {
  std::string text;
  for (const auto& word : words) text += " " + word;
  return text + ".";
}

const SyntheticTask& FindSyntheticTask(const std::string& name) {
  static const SyntheticTask words = MakeWordsTask();
  if (name == words.name) return words;
  throw InvalidInput("--task \"" + name + "\" is not a synthetic task (supported: words)");
}

SyntheticData GenerateSyntheticData(const SyntheticTask& task, int64_t pairs, uint64_t seed) {
  if (pairs < 1 || pairs > kMaxPairs) {
    throw InvalidInput("--pairs=" + std::to_string(pairs) + " must be in [1, " + std::to_string(kMaxPairs) + "]");
  }
  SyntheticData data;
  data.train = DrawPairs(task, pairs, DeriveSeed(seed, kTrainStream));
  data.eval = DrawPairs(task, (pairs + 9) / 10, DeriveSeed(seed, kEvalStream));
  data.sft = DrawSftRows(task, pairs, DeriveSeed(seed, kSftStream));
  for (const auto& topic : task.heldout_topics) data.prompts.push_back(task.Prompt(topic));
  return data;
}

void WriteSyntheticData(const SyntheticTask& task, const SyntheticData& data, uint64_t seed,
                        const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw Error(ErrorKind::kInternal, "cannot create directory " + directory + ": " + error.message());
  const std::filesystem::path root(directory);
  WriteLines((root / "train.jsonl").string(), PairLines(data.train));
  WriteLines((root / "eval.jsonl").string(), PairLines(data.eval));
  WriteLines((root / "sft.jsonl").string(), PairLines(data.sft));
  std::vector<std::string> prompt_lines;
  for (const auto& prompt : data.prompts)
    prompt_lines.push_back(ToJsonLine(nlohmann::ordered_json{{"prompt", prompt}}));
  WriteLines((root / "prompts.jsonl").string(), prompt_lines);

  nlohmann::ordered_json record;
  record["task"] = task.name;
  record["seed"] = seed;
  record["counts"] = {{"train", data.train.size()},
                      {"eval", data.eval.size()},
                      {"sft", data.sft.size()},
                      {"prompts", data.prompts.size()}};
  record["prompt_template"] = task.prompt_prefix + "<topic>" + task.prompt_suffix;
  record["train_topics"] = task.train_topics;
  record["heldout_topics"] = task.heldout_topics;
  record["words"] = {{"helpful", task.helpful_words}, {"harmful", task.harmful_words}, {"neutral", task.neutral_words}};
  record["word_scores"] = {{"helpful", 1}, {"harmful", -1}, {"neutral", 0}, {"unknown", 0}};
  record["response_words"] = task.response_words;
  record["reward"] =
      "sum of word scores over the maximal runs of ASCII letters of the response, case-insensitive; "
      "independent of the prompt";
  WriteFileAtomically((root / "task.json").string(), record.dump(2) + "\n");
}

}  // namespace dpo
