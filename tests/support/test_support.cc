// Shared test helpers.
#include "tests/support/test_support.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace dpo::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "dpo-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ModelConfig ByteGpt2Config(int64_t max_positions, int64_t hidden_size, int64_t num_layers, int64_t num_heads) {
  ModelConfig config;
  config.vocab_size = 259;
  config.bos_token_id = 256;
  config.eos_token_id = 257;
  config.max_positions = max_positions;
  config.hidden_size = hidden_size;
  config.num_layers = num_layers;
  config.num_heads = num_heads;
  return config;
}

ModelConfig TinyGpt2Config() { return ByteGpt2Config(64, 32, 2, 4); }

ModelConfig TinyLlamaConfig() {
  ModelConfig config = ModelConfig::Defaults("llama");
  config.vocab_size = 259;
  config.bos_token_id = 256;
  config.eos_token_id = 257;
  config.max_positions = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_layers = 2;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.rope_theta = 500000.0;
  config.rope_scaling.rope_type = "llama3";
  config.rope_scaling.factor = 8.0;
  // head 8: wavelengths 6.3 (kept), 167 (smoothed), 4443 and 118000 (scaled) against the band
  // edges 256 / 4 = 64 and 256 / 1.
  config.rope_scaling.original_max_position_embeddings = 256;
  return config;
}

at::Tensor RandomTokenIds(int64_t n, int64_t t, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, 256, {n, t}, generator, torch::kLong);
}

bool SameHfWeights(CausalLm& a, CausalLm& b) {
  const auto left = a.HfStateDict(), right = b.HfStateDict();
  if (left.size() != right.size()) return false;
  for (size_t i = 0; i < left.size(); ++i) {
    if (left[i].name != right[i].name || !torch::equal(left[i].tensor, right[i].tensor)) return false;
  }
  return true;
}

}  // namespace dpo::testing
