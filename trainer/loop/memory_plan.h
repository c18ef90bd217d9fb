// The memory model (core/model/memory_model.h) applied to a job: the shapes come from the job
// file, the longest rows of its data and the gradient buckets of the policy's parameters.
#pragma once

#include <iosfwd>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/data/sequence_builder.h"
#include "core/model/memory_model.h"
#include "job/job_config.h"

namespace dpo {

// `parameters`: the policy's trainable parameters in module order; `pairs`: the training data.
// `local_reference` / `reference_in_step`: whether the loss has a local reference on this rank
// and whether it runs in every step (not precomputed).
TrainingMemoryInput JobMemoryInput(const JobConfig& config, const ModelConfig& model, int world_size,
                                   const std::vector<at::Tensor>& parameters, const std::vector<TokenizedPair>& pairs,
                                   bool local_reference, bool reference_in_step);

// The --dry-run section: each part per rank, the total, and the total with gradient
// checkpointing toggled.
void PrintMemoryPlan(std::ostream& out, const TrainingMemoryInput& input);

// "1.23 GiB", "456.7 MiB", "12.0 KiB", "100 B".
std::string FormatBytes(int64_t bytes);

}  // namespace dpo
