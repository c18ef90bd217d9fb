// The training loop's progress as stored in every checkpoint's trainer_state.json: step,
// sampler cursor, counters, fingerprints and the CPU random generator state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/pair_sampler.h"

namespace dpo {

// Version of the trainer_state.json layout; FromJson rejects newer versions.
inline constexpr int kTrainerStateFormatVersion = 1;

// Plain data; copyable. Every field is written and every field but `extra` is required on read.
struct TrainerState {
  int64_t step = 0;                   // optimizer updates done (the checkpoint is after them)
  SamplerState sampler;               // the cursor of the next step's batch
  std::string config_hash;            // hash of the resolved job config
  std::string reference_fingerprint;  // the reference model's content fingerprint
  int world_size = 1;
  int64_t tokens_seen = 0;
  int64_t pairs_seen = 0;
  int64_t skipped_steps = 0;              // non-finite-loss updates skipped so far
  int64_t consecutive_skipped_steps = 0;  // ... of which at the end of the run so far
  std::string torch_rng_state;        // CaptureTorchRngState(): hex of the CPU generator state
  // The checkpoint's optimizer-state files: "optimizer.pt" (one whole optimizer, stage 0) or one
  // shard per rank (ZeRO stages 1 and 2, trainer/zero/adam_state_files.h). Checkpoints written
  // before this field existed hold optimizer.pt.
  std::vector<std::string> optimizer_files = {"optimizer.pt"};
  nlohmann::json extra = nlohmann::json::object();  // free-form, for later additions

  // {"format_version": 1, "step": ..., "sampler": {"epoch", "step_in_epoch"}, ...}.
  nlohmann::json ToJson() const;
  // Throws Error(kInvalidInput) naming `source` (the file) and the field for a missing or
  // mistyped field, a negative counter, world_size < 1 or a format_version newer than ours.
  // Unknown keys (e.g. the checkpoint's "files") are ignored.
  static TrainerState FromJson(const nlohmann::json& json, const std::string& source);

  bool operator==(const TrainerState& other) const;
  bool operator!=(const TrainerState& other) const { return !(*this == other); }
};

// The default CPU generator's state as lower-case hex (about 10 KB). Holds the generator's
// mutex while reading, so it is safe against concurrent sampling.
std::string CaptureTorchRngState();
// Restores a state produced by CaptureTorchRngState(). Throws Error(kInvalidInput) naming the
// length or the offending character when `hex` is not valid hex of the generator's state size.
void RestoreTorchRngState(const std::string& hex);

}  // namespace dpo
