// Model directories in HF layout: `config.json` + `model.safetensors`, or, above the shard size,
// `model.safetensors.index.json` + `model-0000K-of-0000N.safetensors` shards (transformers'
// layout, loaded unchanged by AutoModelForCausalLM.from_pretrained and vLLM).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>

#include "core/model/causal_lm.h"

namespace dpo {

inline constexpr const char* kConfigFileName = "config.json";
inline constexpr const char* kWeightsFileName = "model.safetensors";
inline constexpr const char* kWeightsIndexFileName = "model.safetensors.index.json";

// The dtype to save a model named by config.json's torch_dtype in: bfloat16 and float16 as
// named, float32 for anything else (float32, float64, absent).
c10::ScalarType SaveDtypeFor(const std::string& torch_dtype);

struct ModelSaveOptions {
  // float32 (exact; what checkpoints use), bfloat16 or float16.
  c10::ScalarType dtype = c10::kFloat;
  // Largest shard, bytes of tensor data (transformers' max_shard_size, default 5 GB). A tensor
  // larger than this gets a shard of its own. One shard is written as model.safetensors.
  int64_t max_shard_bytes = 5'000'000'000;
};

// Writes config.json (torch_dtype = options.dtype) and the weights (HF names) into `directory`,
// creating it, and removes weight files of an earlier save that the new layout does not use.
// Each file is replaced atomically; callers that need the directory itself to appear atomically
// (checkpoints) write into a temporary directory and rename it. Returns the weight files
// written (names relative to `directory`: the index first when sharded).
std::vector<std::string> SaveModelDirectory(CausalLm& model, const std::string& directory,
                                            const ModelSaveOptions& options = {});

// The weight files of `directory` (names relative to it): model.safetensors when present, else
// the index and every shard it names. Throws Error(kInvalidInput) naming the file for a missing
// or malformed index (not an object of tensor name -> shard file name, a shard name that is not
// a plain file name) or no weights at all.
std::vector<std::string> ModelWeightFiles(const std::string& directory);

// Every tensor of the directory's weights, in the files' dtypes. Sharded: each tensor must be in
// the shard the index names, and every indexed tensor present. Throws Error(kInvalidInput)
// naming the file and the problem.
std::vector<NamedTensor> ReadModelWeights(const std::string& directory);

// Loads a model from `directory`. Throws Error(kInvalidInput) naming the file and the problem
// (missing file, bad config, missing/unexpected/mis-shaped tensors, corrupt safetensors).
std::shared_ptr<CausalLm> LoadModelDirectory(const std::string& directory);

}  // namespace dpo
