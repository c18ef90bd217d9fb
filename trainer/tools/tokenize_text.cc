// Line-by-line encoding and decoding for `dpo-data tokenize`.
#include "trainer/tools/tokenize_text.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/utf8.h"
#include "core/tokenizer/tokenizer_files.h"

namespace dpo {
namespace {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string Place(const std::string& source, std::size_t index) { return source + ":" + std::to_string(index + 1); }

}  // namespace

std::shared_ptr<const Tokenizer> LoadTokenizerArgument(const std::string& spec) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(spec, error)) {
    if (!fs::exists(fs::path(spec) / kTokenizerFileName, error) && !fs::exists(fs::path(spec) / "tokenizer.json", error)) {
      throw InvalidInput("--tokenizer " + spec + ": the directory holds neither " + kTokenizerFileName +
                         " nor tokenizer.json");
    }
    return LoadTokenizerForModel(spec, "byte");
  }
  return CreateTokenizer(spec);
}

TokenizeTextResult TokenizeTextLines(const Tokenizer& tokenizer, std::string_view text, const std::string& source,
                                     const TokenizeTextOptions& options) {
  if (options.add_bos && !tokenizer.BosId()) {
    throw InvalidInput("--add-bos: tokenizer " + tokenizer.Name() + " has no BOS token");
  }
  TokenizeTextResult result;
  const std::vector<std::string_view> lines = SplitLines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (const auto bad = FindInvalidUtf8(lines[i])) {
      throw InvalidInput(Place(source, i) + ": not valid UTF-8 (byte " + std::to_string(*bad) + " of the line)");
    }
    std::vector<TokenId> ids;
    if (options.add_bos) ids.push_back(*tokenizer.BosId());
    const std::vector<TokenId> encoded = tokenizer.Encode(lines[i]);
    ids.insert(ids.end(), encoded.begin(), encoded.end());
    if (options.add_eos) ids.push_back(tokenizer.EosId());
    result.tokens += static_cast<int64_t>(ids.size());
    result.lines.push_back(nlohmann::json(ids).dump());
  }
  return result;
}

TokenizeTextResult DecodeIdLines(const Tokenizer& tokenizer, std::string_view text, const std::string& source) {
  TokenizeTextResult result;
  const std::vector<std::string_view> lines = SplitLines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<TokenId> ids;
    if (lines[i].find_first_not_of(" \t\r") != std::string_view::npos) {
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(lines[i]);
      } catch (const nlohmann::json::parse_error& e) {
        throw InvalidInput(Place(source, i) + ": invalid JSON: " + e.what());
      }
      if (!value.is_array()) throw InvalidInput(Place(source, i) + ": expected a JSON array of token ids");
      for (std::size_t k = 0; k < value.size(); ++k) {
        if (!value[k].is_number_integer()) {
          throw InvalidInput(Place(source, i) + ": element " + std::to_string(k) + ": expected an integer token id, got " +
                             value[k].dump());
        }
        ids.push_back(value[k].get<TokenId>());
      }
    }
    try {
      result.lines.push_back(tokenizer.Decode(ids));
    } catch (const Error& e) {
      throw InvalidInput(Place(source, i) + ": " + e.what());
    }
    result.tokens += static_cast<int64_t>(ids.size());
  }
  return result;
}

}  // namespace dpo
