// Builds what a training job trains with: the tokenizer, the policy and, when asked for, the
// frozen local reference model (the initial policy unless reference.model names another).
#pragma once

#include <memory>

#include <c10/core/Device.h>

#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"
#include "job/job_config.h"

namespace dpo {

struct TrainingModels {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<CausalLm> policy;
  std::shared_ptr<CausalLm> reference;  // null unless a local reference was asked for
};

// Throws Error(kInvalidInput) naming the key when the model and tokenizer disagree (vocabulary
// too small, data.max_length beyond n_positions, a reference with another tokenizer).
TrainingModels BuildTrainingModels(const JobConfig& config, bool needs_local_reference);

// The device of training.device for the rank with this local rank: the CPU, or CUDA GPU
// (local_rank mod the visible GPUs). Throws Error(kInvalidInput) when CUDA is asked for but this
// LibTorch has no CUDA or no GPU is visible.
c10::Device TrainingDevice(const TrainingSection& training, int local_rank);

}  // namespace dpo
