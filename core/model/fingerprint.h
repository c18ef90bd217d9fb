// The content fingerprint of a model: what the trainer records in checkpoints and the reference
// server reports in ModelInfo, so that equal fingerprints mean equal reference log-probs.
#pragma once

#include <string>

namespace dpo {

class CausalLm;

// Lower-case hex SHA-256 over the model's config.json text (ModelConfig::ToHfJsonText), the
// tokenizer's name, and every weight in HF names and order (name, int64 shape, float32 bytes).
// Weights on another device or in another dtype are copied to CPU float32 first, so the value
// does not depend on where or in which precision the model is loaded. Cost: one pass over the
// weights. Not thread-safe with a concurrent forward or weight update of the same model.
std::string ModelFingerprint(CausalLm& model, const std::string& tokenizer_name);

}  // namespace dpo
