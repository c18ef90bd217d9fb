// What a checkpoint directory holds and how it is checked: file names, step-<N> naming, and
// VerifyCheckpoint (every file present and matching the SHA-256 recorded in trainer_state.json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trainer/checkpoint/trainer_state.h"

namespace dpo {

// <output>/step-<N>/ holds config.json, model.safetensors (core/model/pretrained.h),
// dpo_tokenizer.json (core/tokenizer/tokenizer_files.h) and these:
inline constexpr const char* kOptimizerFileName = "optimizer.pt";      // torch::save(optimizer), stage 0
inline constexpr const char* kJobConfigFileName = "job.yaml";          // the resolved job config
inline constexpr const char* kTrainerStateFileName = "trainer_state.json";  // state + "files"
// <output>/latest holds "step-<N>\n": the newest complete checkpoint.
inline constexpr const char* kLatestFileName = "latest";
// Temporary directories (checkpoints being written, old ones being deleted) start with this;
// any left in <output> are debris of a crash.
inline constexpr const char* kTempPrefix = ".tmp-step-";

// Every file trainer_state.json must list in "files" with its SHA-256 (hex): config.json, the
// weight files the checkpoint directory `dir` holds (ModelWeightFiles: single or sharded), the
// tokenizer record, the optimizer state (`optimizer_files`, TrainerState) and job.yaml. Throws
// Error(kInvalidInput) when `dir` has no readable weights.
std::vector<std::string> CheckpointChecksummedFiles(const std::string& dir, const std::vector<std::string>& optimizer_files);

// "step-<N>" for N >= 0.
std::string StepDirectoryName(int64_t step);
// N for "step-<N>" (decimal digits only, no sign, no leading zeros except "0"), else nullopt.
std::optional<int64_t> ParseStepDirectoryName(const std::string& name);

// The step-<N> directories directly in `output_dir` as (N, full path), ascending by N. Empty
// when `output_dir` does not exist. Throws Error(kInternal) when it cannot be listed.
std::vector<std::pair<int64_t, std::string>> ListStepCheckpoints(const std::string& output_dir);

// Every problem found in checkpoint `dir`, each naming the file: the directory missing, a file
// missing, a checksum mismatch (expected and found digests), an unparseable or invalid
// trainer_state.json, a "files" entry missing, or a step that disagrees with a step-<N> name.
// Empty means the checkpoint is complete and intact. Reads and hashes every file; never throws
// for bad contents (only std::bad_alloc and the like escape).
std::vector<std::string> VerifyCheckpoint(const std::string& dir);

// The TrainerState in `dir`/trainer_state.json, without checksum verification. Throws
// Error(kInvalidInput) naming the file and field.
TrainerState ReadCheckpointState(const std::string& dir);

}  // namespace dpo
