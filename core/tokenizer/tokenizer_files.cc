// Tokenizer records in model directories, and CreateTokenizer.
#include "core/tokenizer/tokenizer_files.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/byte_tokenizer.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHfPrefix = "hf-bpe:";

bool StartsWith(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

std::shared_ptr<const Tokenizer> CreateTokenizer(const std::string& spec) {
  if (spec == "byte") return std::make_shared<ByteTokenizer>();
  std::error_code error;
  if (!spec.empty() && (fs::is_directory(spec, error) || fs::is_regular_file(spec, error))) {
    return BpeTokenizer::Load(spec);
  }
  throw InvalidInput("tokenizer \"" + spec +
                     "\" is not supported (supported: byte, or the path of an HF tokenizer.json or of the directory "
                     "holding it)");
}

void SaveTokenizerFiles(const Tokenizer& tokenizer, const std::string& directory) {
  if (const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tokenizer)) {
    for (const auto& [name, contents] : bpe->source_files()) {
      WriteFileAtomically((fs::path(directory) / name).string(), contents);
    }
  }
  const nlohmann::json record = {{"type", tokenizer.Name()}, {"vocab_size", tokenizer.VocabSize()}};
  WriteFileAtomically((fs::path(directory) / kTokenizerFileName).string(), record.dump(2) + "\n");
}

std::shared_ptr<const Tokenizer> LoadTokenizerForModel(const std::string& directory, const std::string& fallback_spec) {
  const std::string path = (fs::path(directory) / kTokenizerFileName).string();
  const std::string hf_path = (fs::path(directory) / kHfTokenizerFileName).string();
  std::error_code error;
  if (!fs::exists(path, error)) {
    if (fs::exists(hf_path, error)) return BpeTokenizer::Load(directory);
    return CreateTokenizer(fallback_spec);
  }
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(path + ": invalid JSON: " + e.what());
  }
  if (!record.is_object() || !record.contains("type") || !record["type"].is_string()) {
    throw InvalidInput(path + ": field \"type\": expected a string");
  }
  const std::string type = record["type"].get<std::string>();
  if (!StartsWith(type, kHfPrefix)) return CreateTokenizer(type);
  if (!fs::exists(hf_path, error)) {
    throw InvalidInput(path + ": names tokenizer \"" + type + "\" but " + hf_path + " is missing");
  }
  auto tokenizer = BpeTokenizer::Load(directory);
  if (tokenizer->Name() != type) {
    throw InvalidInput(path + ": names tokenizer \"" + type + "\" but the tokenizer files beside it are \"" +
                       tokenizer->Name() + "\" (tokenizer.json or its special tokens changed)");
  }
  return tokenizer;
}

}  // namespace dpo
