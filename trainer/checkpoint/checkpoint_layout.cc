// Checkpoint naming, listing and verification against the recorded SHA-256 digests.
#include "trainer/checkpoint/checkpoint_layout.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/sha256.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStepPrefix = "step-";

nlohmann::json ParseStateFile(const std::string& path) {
  try {
    return nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(path + ": invalid JSON: " + e.what());
  }
}

}  // namespace

std::vector<std::string> CheckpointChecksummedFiles(const std::string& dir, const std::vector<std::string>& optimizer_files) {
  std::vector<std::string> files = {kConfigFileName};
  for (const std::string& name : ModelWeightFiles(dir)) files.push_back(name);
  files.insert(files.end(), optimizer_files.begin(), optimizer_files.end());
  for (const char* name : {kTokenizerFileName, kJobConfigFileName}) files.push_back(name);
  return files;
}

std::string StepDirectoryName(int64_t step) { return kStepPrefix + std::to_string(step); }

std::optional<int64_t> ParseStepDirectoryName(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 18 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::vector<std::pair<int64_t, std::string>> ListStepCheckpoints(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> steps;
  std::error_code error;
  if (!fs::is_directory(output_dir, error)) return steps;
  fs::directory_iterator it(output_dir, error);
  if (error) throw Error(ErrorKind::kInternal, "cannot list " + output_dir + ": " + error.message());
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) throw Error(ErrorKind::kInternal, "cannot list " + output_dir + ": " + error.message());
    const auto step = ParseStepDirectoryName(it->path().filename().string());
    std::error_code ignored;
    if (step && it->is_directory(ignored)) steps.emplace_back(*step, it->path().string());
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::vector<std::string> VerifyCheckpoint(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return {dir + ": not a directory (missing)"};
  const fs::path root(dir);
  const std::string state_path = (root / kTrainerStateFileName).string();
  if (!fs::exists(state_path, error)) return {state_path + ": missing"};

  std::vector<std::string> problems;
  nlohmann::json json;
  TrainerState state;
  try {
    json = ParseStateFile(state_path);
    state = TrainerState::FromJson(json, state_path);
  } catch (const Error& e) {
    return {e.what()};
  }
  const auto step = ParseStepDirectoryName(root.filename().string());
  if (step && *step != state.step) {
    problems.push_back(state_path + ": field \"step\": " + std::to_string(state.step) +
                       " disagrees with the directory name " + root.filename().string());
  }
  const auto files = json.find("files");
  if (files == json.end() || !files->is_object()) {
    problems.push_back(state_path + ": field \"files\": missing or not an object");
    return problems;
  }
  std::set<std::string> names;
  try {
    for (const std::string& name : CheckpointChecksummedFiles(dir, state.optimizer_files)) names.insert(name);
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  for (const auto& [name, digest] : files->items()) names.insert(name);
  for (const std::string& name : names) {
    const auto recorded = files->find(name);
    if (recorded == files->end()) {
      problems.push_back(state_path + ": field \"files\": no checksum for " + name);
      continue;
    }
    if (!recorded->is_string()) {
      problems.push_back(state_path + ": field \"files." + name + "\": expected a string");
      continue;
    }
    // Names come from the file; never follow one out of the checkpoint directory.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      problems.push_back(state_path + ": field \"files\": invalid file name \"" + name + "\"");
      continue;
    }
    const std::string path = (root / name).string();
    if (!fs::exists(path, error)) {
      problems.push_back(path + ": missing");
      continue;
    }
    try {
      const std::string found = Sha256FileHex(path);
      const std::string expected = recorded->get<std::string>();
      if (found != expected) {
        problems.push_back(path + ": checksum mismatch: expected sha256 " + expected + ", found " + found);
      }
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  return problems;
}

TrainerState ReadCheckpointState(const std::string& dir) {
  const std::string path = (fs::path(dir) / kTrainerStateFileName).string();
  return TrainerState::FromJson(ParseStateFile(path), path);
}


}  // namespace dpo
