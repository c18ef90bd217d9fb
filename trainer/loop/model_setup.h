// Builds what a training job trains with: the tokenizer, the policy and, when the loss needs
// one, the frozen reference model (the initial policy unless reference.model names another).
#pragma once

#include <memory>

#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"
#include "trainer/config/job_config.h"

namespace dpo {

struct TrainingModels {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<CausalLm> policy;
  std::shared_ptr<CausalLm> reference;  // null when the loss needs no reference
};

// Throws Error(kInvalidInput) naming the key when the model and tokenizer disagree (vocabulary
// too small, data.max_length beyond n_positions, a reference with another tokenizer).
TrainingModels BuildTrainingModels(const JobConfig& config, bool needs_reference);

}  // namespace dpo
