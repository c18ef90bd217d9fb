// CheckpointManager: crash-safe checkpoints under the output directory (step-<N>/ written into
// a temp dir, fsynced, renamed, then the `latest` pointer), retention, and choosing and loading
// the checkpoint to resume from. The layout and checks are in checkpoint_layout.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/model/pretrained.h"
#include "trainer/checkpoint/trainer_state.h"

namespace torch::optim {
class Optimizer;
}

namespace dpo {

class Tokenizer;

// Thread safety: none; one manager per output directory, used by the one rank that saves
// (rank 0). Construct it there only: construction deletes the temp dirs of a crashed save.
class CheckpointManager {
 public:
  // Receives one line per rejected checkpoint during FindResumeCheckpoint("auto").
  using WarningSink = std::function<void(const std::string&)>;

  // `save_total_limit`: keep at most this many step-<N> directories (0 = keep all; negative
  // throws Error(kInvalidInput)). `warn`: where warnings go; null prints "warning: ..." lines to
  // stderr. Removes stale `.tmp-step-*` directories left in `output_dir` by a crashed run;
  // throws Error(kInternal) when one cannot be removed.
  CheckpointManager(std::string output_dir, int save_total_limit, WarningSink warn = nullptr);

  // Checkpoint weights above this many bytes are written as shards (see ModelSaveOptions).
  void set_max_shard_bytes(int64_t bytes) { max_shard_bytes_ = bytes; }

  // An optimizer-state file written outside Save (by any rank, into a staging directory under
  // the output directory), with the SHA-256 its writer computed after writing it.
  struct StagedFile {
    std::string path;
    std::string sha256;
  };

  // Writes `<output>/step-<step>/` (config.json, the float32 weights: model.safetensors or
  // shards with their index, dpo_tokenizer.json, the optimizer files, job.yaml,
  // trainer_state.json with the SHA-256 of every other file) and returns its path. The optimizer
  // files are `optimizer_files`, moved in (same file system) and each checked against its
  // writer's digest; their names become state.optimizer_files. Protocol: temp sibling dir, fsync
  // of each file and the dir, rename to step-<step> (an existing step-<step> is replaced
  // atomically), fsync of <output>, then `latest` is replaced atomically, then retention deletes
  // the oldest step-<N> beyond save_total_limit (never the one just written). A crash at any
  // point leaves the previous checkpoint and `latest` usable. Requires state.step == step >= 0
  // and at least one optimizer file (else Error(kInternal)). Throws Error(kInternal) naming the
  // path on I/O failure or a digest mismatch; the temp dir is removed then.
  std::string Save(int64_t step, CausalLm& model, const Tokenizer& tokenizer, const std::vector<StagedFile>& optimizer_files,
                   const TrainerState& state, const std::string& resolved_config_yaml);
  // The same for one process's whole optimizer, written as optimizer.pt.
  std::string Save(int64_t step, CausalLm& model, const Tokenizer& tokenizer, torch::optim::Optimizer& optimizer,
                   const TrainerState& state, const std::string& resolved_config_yaml);

  // The checkpoint to resume from:
  //  "never": nullopt.
  //  "auto":  the directory `latest` names if it verifies, else the newest other step-<N> that
  //           verifies (each rejected one goes to the warning sink with its problems); nullopt
  //           when there is no step-<N> at all. Throws Error(kNoCheckpoint) listing every
  //           checkpoint and its problems when some exist but none verifies.
  //  a path: returned when VerifyCheckpoint passes, else Error(kNoCheckpoint) naming the path
  //           and the problems. An empty string throws Error(kInvalidInput).
  std::optional<std::string> FindResumeCheckpoint(const std::string& resume) const;

  // Verifies `dir` (Error(kNoCheckpoint) naming it and every problem), then loads the weights
  // into `model` (LoadHfStateDict) and returns the TrainerState; the caller loads the optimizer
  // files it names (state.optimizer_files). Does not restore the RNG state: the caller does
  // (RestoreTorchRngState) once it has checked config_hash and world_size. Throws
  // Error(kInvalidInput) naming the file when a verified file cannot be loaded into the model.
  TrainerState Load(const std::string& dir, CausalLm& model) const;
  // The same, then optimizer.pt into `optimizer` (which must have the same parameter groups and
  // sizes as when saved; tensors go to the device of the model's first parameter). Throws
  // Error(kInvalidInput) for a checkpoint whose optimizer state is sharded.
  TrainerState Load(const std::string& dir, CausalLm& model, torch::optim::Optimizer& optimizer) const;

  const std::string& output_dir() const { return output_dir_; }
  int save_total_limit() const { return save_total_limit_; }

 private:
  void ApplyRetention(int64_t just_written) const;
  void Warn(const std::string& message) const;

  std::string output_dir_;
  int save_total_limit_;
  WarningSink warn_;
  int64_t max_shard_bytes_ = ModelSaveOptions{}.max_shard_bytes;
};

}  // namespace dpo
