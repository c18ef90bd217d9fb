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
  ModelConfig config;
  config.n_positions = 64;
  config.n_embd = 32;
  config.n_layer = 2;
  config.n_head = 4;
  return config;
}

}  // namespace dpo::testing
