// Model directories in HF layout: `config.json` + `model.safetensors`.
#pragma once

#include <memory>
#include <string>

#include "core/model/causal_lm.h"

namespace dpo {

inline constexpr const char* kConfigFileName = "config.json";
inline constexpr const char* kWeightsFileName = "model.safetensors";

// Writes config.json and model.safetensors (float32, HF names) into `directory`, creating it.
// Each file is replaced atomically; callers that need the directory itself to appear atomically
// (checkpoints) write into a temporary directory and rename it.
void SaveModelDirectory(CausalLm& model, const std::string& directory);

// Loads a model from `directory`. Throws Error(kInvalidInput) naming the file and the problem
// (missing file, bad config, missing/unexpected/mis-shaped tensors, corrupt safetensors).
std::shared_ptr<CausalLm> LoadModelDirectory(const std::string& directory);

}  // namespace dpo
