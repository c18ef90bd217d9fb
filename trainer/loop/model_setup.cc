// Tokenizer, policy and reference construction with their consistency checks.
#include "trainer/loop/model_setup.h"

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"
#include "job/job_tokenizer.h"

namespace dpo {
namespace {

std::shared_ptr<CausalLm> BuildInitialModel(const JobConfig& config, const Tokenizer& tokenizer) {
  if (!config.model.random_init()) return LoadModelDirectory(config.model.init);
  ModelConfig architecture = config.model.architecture;
  if (architecture.vocab_size == 0) architecture.vocab_size = tokenizer.VocabSize();
  architecture.bos_token_id = tokenizer.BosId().value_or(tokenizer.EosId());
  architecture.eos_token_id = tokenizer.EosId();
  return CreateCausalLm(architecture, config.model.seed);
}

void CheckCompatible(const CausalLm& model, const Tokenizer& tokenizer, const JobConfig& config, const std::string& what) {
  if (model.config().vocab_size < tokenizer.VocabSize()) {
    throw InvalidInput(what + ": vocab_size=" + std::to_string(model.config().vocab_size) + " is smaller than the " +
                       tokenizer.Name() + " tokenizer's " + std::to_string(tokenizer.VocabSize()) + " ids");
  }
  if (config.data.max_length > model.config().max_positions) {
    throw InvalidInput("data.max_length=" + std::to_string(config.data.max_length) + " exceeds " + what +
                       " " + model.config().FieldName("max_positions") + "=" + std::to_string(model.config().max_positions));
  }
}

}  // namespace

c10::Device TrainingDevice(const TrainingSection& training, int local_rank) {
  if (training.device == DeviceKind::kCpu) return c10::Device(c10::kCPU);
  if (!torch::cuda::is_available()) {
    throw InvalidInput("training.device=cuda: no CUDA GPU is visible to this process, or this dpo-train was built "
                       "with a LibTorch without CUDA");
  }
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
}

TrainingModels BuildTrainingModels(const JobConfig& config, bool needs_local_reference) {
  TrainingModels models;
  models.tokenizer = JobTokenizer(config);
  models.policy = BuildInitialModel(config, *models.tokenizer);
  models.policy->SetGradientCheckpointing(config.model.gradient_checkpointing);
  CheckCompatible(*models.policy, *models.tokenizer, config, "the policy model");
  if (!needs_local_reference) return models;

  if (config.reference.model.empty()) {
    models.reference = BuildInitialModel(config, *models.tokenizer);  // an identical, separate copy
  } else {
    const auto reference_tokenizer = LoadTokenizerForModel(config.reference.model, config.tokenizer);
    if (reference_tokenizer->Name() != models.tokenizer->Name()) {
      throw InvalidInput("reference.model " + config.reference.model + " uses tokenizer \"" +
                         reference_tokenizer->Name() + "\" but the policy uses \"" + models.tokenizer->Name() + "\"");
    }
    models.reference = LoadModelDirectory(config.reference.model);
  }
  CheckCompatible(*models.reference, *models.tokenizer, config, "the reference model");
  return models;
}

}  // namespace dpo
