// Tokenizer records in model directories.
#include "core/tokenizer/tokenizer_files.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {

void SaveTokenizerFiles(const Tokenizer& tokenizer, const std::string& directory) {
  const nlohmann::json record = {{"type", tokenizer.Name()}, {"vocab_size", tokenizer.VocabSize()}};
  WriteFileAtomically((std::filesystem::path(directory) / kTokenizerFileName).string(), record.dump(2) + "\n");
}

std::shared_ptr<const Tokenizer> LoadTokenizerForModel(const std::string& directory, const std::string& fallback_spec) {
  const std::string path = (std::filesystem::path(directory) / kTokenizerFileName).string();
  if (!std::filesystem::exists(path)) return CreateTokenizer(fallback_spec);
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(path + ": invalid JSON: " + e.what());
  }
  if (!record.is_object() || !record.contains("type") || !record["type"].is_string()) {
    throw InvalidInput(path + ": field \"type\": expected a string");
  }
  return CreateTokenizer(record["type"].get<std::string>());
}

}  // namespace dpo
