// LoadReferenceModel: model directory -> frozen model + tokenizer + fingerprint.
#include "reference_server/engine/reference_model.h"

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/model/fingerprint.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"

namespace dpo {

LoadedReferenceModel LoadReferenceModel(const std::string& directory, const std::string& tokenizer_fallback) {
  LoadedReferenceModel loaded;
  loaded.directory = directory;
  loaded.tokenizer = LoadTokenizerForModel(directory, tokenizer_fallback);
  loaded.model = LoadModelDirectory(directory);
  const ModelConfig& config = loaded.model->config();
  if (config.vocab_size < loaded.tokenizer->VocabSize()) {
    throw InvalidInput(directory + ": config.json vocab_size=" + std::to_string(config.vocab_size) +
                       " is smaller than the " + loaded.tokenizer->Name() + " tokenizer's " +
                       std::to_string(loaded.tokenizer->VocabSize()) + " ids");
  }
  loaded.model->module().eval();
  for (auto& parameter : loaded.model->module().parameters()) parameter.set_requires_grad(false);
  loaded.fingerprint = ModelFingerprint(*loaded.model, loaded.tokenizer->Name());
  return loaded;
}

}  // namespace dpo
