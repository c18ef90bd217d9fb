// Shared test helpers.
#include "tests/support/test_support.h"

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

ModelConfig TinyGpt2Config() {
  ModelConfig config;  // GPT-2 sized down, over the byte tokenizer's 259 ids
  config.vocab_size = 259;
  config.bos_token_id = 256;
  config.eos_token_id = 257;
  config.max_positions = 64;
  config.hidden_size = 32;
  config.num_layers = 2;
  config.num_heads = 4;
  return config;
}

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

}  // namespace dpo::testing
