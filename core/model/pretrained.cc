// Save/load of HF-layout model directories.
#include "core/model/pretrained.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/common/error.h"

namespace dpo {

void SaveModelDirectory(CausalLm& model, const std::string& directory) {
  std::filesystem::create_directories(directory);
  model.config().Save((std::filesystem::path(directory) / kConfigFileName).string());
  std::vector<NamedTensor> tensors = model.HfStateDict();
  for (auto& tensor : tensors) tensor.tensor = tensor.tensor.to(torch::kCPU, torch::kFloat).contiguous();
  WriteSafetensors((std::filesystem::path(directory) / kWeightsFileName).string(), tensors);
}

std::shared_ptr<CausalLm> LoadModelDirectory(const std::string& directory) {
  const std::filesystem::path root(directory);
  if (!std::filesystem::is_directory(root)) throw InvalidInput("model directory " + directory + " does not exist");
  const std::string weights_path = (root / kWeightsFileName).string();
  if (!std::filesystem::exists(weights_path)) throw InvalidInput(weights_path + ": missing model weights");
  const ModelConfig config = ModelConfig::Load((root / kConfigFileName).string());
  auto model = CreateCausalLm(config, /*seed=*/0);
  model->LoadHfStateDict(ReadSafetensors(weights_path).tensors, weights_path);
  return model;
}

}  // namespace dpo
