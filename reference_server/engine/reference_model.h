// The frozen reference model the server scores with: weights, tokenizer and content fingerprint,
// loaded once at start and shared read-only by the batcher and the service.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct LoadedReferenceModel {
  std::string directory;
  std::shared_ptr<CausalLm> model;             // eval mode, every parameter requires_grad=false
  std::shared_ptr<const Tokenizer> tokenizer;  // the directory's record, or the fallback spec
  std::string fingerprint;                     // ModelFingerprint(model, tokenizer name)

  int64_t vocab_size() const { return model->config().vocab_size; }
  int64_t max_sequence_length() const { return model->config().max_positions; }
};

// Loads an HF-layout model directory (config.json + model.safetensors) and the tokenizer it
// records (dpo_tokenizer.json; `tokenizer_fallback`, e.g. "byte", when it records none), freezes
// the model and fingerprints it exactly as dpo-train fingerprints its reference (so fingerprints
// agree between a trainer with reference.mode local and this server). Throws
// Error(kInvalidInput) naming the directory and the problem (missing or corrupt files, a
// vocabulary smaller than the tokenizer's). The caller owns the result; after loading, only
// one thread at a time may run a forward (the batcher's worker).
LoadedReferenceModel LoadReferenceModel(const std::string& directory, const std::string& tokenizer_fallback);

}  // namespace dpo
