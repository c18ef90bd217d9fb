// ModelFingerprint: SHA-256 over config, tokenizer name and weights.
#include "core/model/fingerprint.h"

#include <torch/torch.h>

#include "core/common/sha256.h"
#include "core/model/causal_lm.h"

namespace dpo {

std::string ModelFingerprint(CausalLm& model, const std::string& tokenizer_name) {
  Sha256 hash;
  const std::string config = model.config().ToHfJsonText();
  hash.Update(config);
  hash.Update(tokenizer_name);
  for (const auto& [name, tensor] : model.HfStateDict()) {
    const auto values = tensor.to(torch::kCPU, torch::kFloat).contiguous();
    hash.Update(name);
    for (const int64_t size : values.sizes()) hash.Update(&size, sizeof(size));
    hash.Update(values.data_ptr(), static_cast<size_t>(values.numel()) * sizeof(float));
  }
  return DigestToHex(hash.Finish());
}

}  // namespace dpo
