// CheckpointManager: construction (stale temp cleanup), the save protocol and retention.
#include "trainer/checkpoint/checkpoint_manager.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/sha256.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/durable_directory.h"
#include "trainer/checkpoint/fault_injection.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

// Temp names carry the step they belong to, for whoever inspects a crashed output dir.
std::string TempPrefixFor(int64_t step, const char* purpose) {
  return std::string(kTempPrefix) + std::to_string(step) + purpose;
}

void RemoveStaleTempDirectories(const std::string& output_dir) {
  std::error_code error;
  if (!fs::is_directory(output_dir, error)) return;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(output_dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) stale.push_back(it->path());
  }
  if (error) throw Error(ErrorKind::kInternal, "cannot list " + output_dir + ": " + error.message());
  for (const fs::path& path : stale) {
    fs::remove_all(path, error);
    if (error) throw Error(ErrorKind::kInternal, "cannot remove stale " + path.string() + ": " + error.message());
  }
}

// Moves the staged optimizer files into `temp`, checks each against its writer's digest and
// returns their names. A staging directory left empty goes too.
std::vector<std::string> MoveInOptimizerFiles(const std::vector<CheckpointManager::StagedFile>& staged, const fs::path& temp) {
  std::vector<std::string> names;
  for (const auto& file : staged) {
    const std::string name = fs::path(file.path).filename().string();
    const fs::path target = temp / name;
    std::error_code error;
    fs::rename(file.path, target, error);
    if (error) throw Error(ErrorKind::kInternal, "cannot move " + file.path + " into " + temp.string() + ": " + error.message());
    const std::string found = Sha256FileHex(target.string());
    if (found != file.sha256) {
      throw Error(ErrorKind::kInternal, target.string() + ": sha256 " + found + " differs from the " + file.sha256 +
                                            " its writer computed; the checkpoint is not committed");
    }
    names.push_back(name);
  }
  for (const auto& file : staged) {
    std::error_code not_empty_or_gone;
    fs::remove(fs::path(file.path).parent_path(), not_empty_or_gone);
  }
  return names;
}

// Everything but the rename: the complete checkpoint in `temp`, synced.
void WriteCheckpointFiles(const std::string& temp, int64_t step, int64_t max_shard_bytes, CausalLm& model,
                          const Tokenizer& tokenizer, const std::vector<CheckpointManager::StagedFile>& optimizer_files,
                          TrainerState state, const std::string& resolved_config_yaml) {
  const fs::path root(temp);
  ModelSaveOptions weights;
  weights.max_shard_bytes = max_shard_bytes;
  SaveModelDirectory(model, temp, weights);
  SaveTokenizerFiles(tokenizer, temp);
  MaybeInjectFault("checkpoint.after_weights", step);

  state.optimizer_files = MoveInOptimizerFiles(optimizer_files, root);
  WriteFileAtomically((root / kJobConfigFileName).string(), resolved_config_yaml);

  nlohmann::json json = state.ToJson();
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& name : CheckpointChecksummedFiles(temp, state.optimizer_files)) {
    files[name] = Sha256FileHex((root / name).string());
  }
  json["files"] = std::move(files);
  WriteFileAtomically((root / kTrainerStateFileName).string(), json.dump(2) + "\n");
  SyncDirectoryContents(temp);
}

}  // namespace

CheckpointManager::CheckpointManager(std::string output_dir, int save_total_limit, WarningSink warn)
    : output_dir_(std::move(output_dir)), save_total_limit_(save_total_limit), warn_(std::move(warn)) {
  if (save_total_limit_ < 0) {
    throw InvalidInput("checkpoint save_total_limit: " + std::to_string(save_total_limit_) +
                       " is negative (0 keeps every checkpoint)");
  }
  RemoveStaleTempDirectories(output_dir_);
}

std::string CheckpointManager::Save(int64_t step, CausalLm& model, const Tokenizer& tokenizer,
                                    torch::optim::Optimizer& optimizer, const TrainerState& state,
                                    const std::string& resolved_config_yaml) {
  std::error_code error;
  fs::create_directories(output_dir_, error);
  if (error) throw Error(ErrorKind::kInternal, "cannot create output directory " + output_dir_ + ": " + error.message());
  const std::string staging = MakeTempDirectory(output_dir_, TempPrefixFor(step, "-optimizer-"));
  try {
    const std::string path = (fs::path(staging) / kOptimizerFileName).string();
    try {
      torch::save(optimizer, path);
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kInternal, path + ": cannot write optimizer state: " + e.what_without_backtrace());
    }
    const std::string directory =
        Save(step, model, tokenizer, {{path, Sha256FileHex(path)}}, state, resolved_config_yaml);
    fs::remove_all(staging, error);
    return directory;
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
}

std::string CheckpointManager::Save(int64_t step, CausalLm& model, const Tokenizer& tokenizer,
                                    const std::vector<StagedFile>& optimizer_files, const TrainerState& state,
                                    const std::string& resolved_config_yaml) {
  if (optimizer_files.empty()) throw Error(ErrorKind::kInternal, "CheckpointManager::Save: no optimizer files");
  if (step < 0 || state.step != step) {
    throw Error(ErrorKind::kInternal, "CheckpointManager::Save: step " + std::to_string(step) +
                                          " must be >= 0 and equal TrainerState.step " + std::to_string(state.step));
  }
  std::error_code error;
  fs::create_directories(output_dir_, error);
  if (error) throw Error(ErrorKind::kInternal, "cannot create output directory " + output_dir_ + ": " + error.message());

  const std::string name = StepDirectoryName(step);
  const std::string final_dir = (fs::path(output_dir_) / name).string();
  const std::string temp = MakeTempDirectory(output_dir_, TempPrefixFor(step, "-"));
  try {
    WriteCheckpointFiles(temp, step, max_shard_bytes_, model, tokenizer, optimizer_files, state, resolved_config_yaml);
    MaybeInjectFault("checkpoint.before_rename", step);
    ReplaceDirectory(temp, final_dir, TempPrefixFor(step, "-old-"));
  } catch (...) {
    // Not swallowed: the error propagates; only the partial temp dir goes.
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    throw;
  }
  MaybeInjectFault("checkpoint.after_rename", step);
  WriteFileAtomically((fs::path(output_dir_) / kLatestFileName).string(), name + "\n");
  ApplyRetention(step);
  return final_dir;
}

void CheckpointManager::ApplyRetention(int64_t just_written) const {
  if (save_total_limit_ == 0) return;
  const auto steps = ListStepCheckpoints(output_dir_);  // ascending: oldest first
  size_t remaining = steps.size();
  for (const auto& [step, path] : steps) {
    if (remaining <= static_cast<size_t>(save_total_limit_)) break;
    if (step == just_written) continue;
    RemoveDirectoryAtomically(path, TempPrefixFor(step, "-deleted-"));
    --remaining;
  }
}

void CheckpointManager::Warn(const std::string& message) const {
  if (warn_) {
    warn_(message);
  } else {
    std::cerr << "warning: " << message << "\n";
  }
}

}  // namespace dpo
