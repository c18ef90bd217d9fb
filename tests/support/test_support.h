// Helpers shared by the test suites: temporary directories and small model configs.
#pragma once

#include <string>

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

// A GPT-2 config small enough for unit tests (byte vocabulary, 2 layers, width 32).
ModelConfig TinyGpt2Config();
// A Llama-family config of the same scale: grouped-query attention (4 query heads, 2 key/value
// heads), llama3 rope scaling whose three frequency bands all occur, untied LM head.
ModelConfig TinyLlamaConfig();

}  // namespace dpo::testing
