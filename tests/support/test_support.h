// Helpers shared by the test suites: temporary directories, small model configs and model
// comparisons.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/model/causal_lm.h"
#include "core/model/model_config.h"

namespace dpo::testing {

// A fresh directory under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A GPT-2 config over the byte tokenizer's 259 ids (BOS 256, EOS 257).
ModelConfig ByteGpt2Config(int64_t max_positions, int64_t hidden_size, int64_t num_layers, int64_t num_heads);
// ByteGpt2Config small enough for unit tests: 64 positions, width 32, 2 layers, 4 heads.
ModelConfig TinyGpt2Config();
// A Llama-family config of the same scale: grouped-query attention (4 query heads, 2 key/value
// heads), llama3 rope scaling whose three frequency bands all occur, untied LM head.
ModelConfig TinyLlamaConfig();

// (n, t) int64 ids in [0, 256), the same for the same seed.
at::Tensor RandomTokenIds(int64_t n, int64_t t, uint64_t seed);

// True when both models hold the same HF tensors (names, order and values, bit for bit).
bool SameHfWeights(CausalLm& a, CausalLm& b);

}  // namespace dpo::testing
