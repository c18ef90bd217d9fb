// The tokenizer's files inside a model directory, so a saved model names the tokenizer it was
// trained with: `dpo_tokenizer.json` ({"type": "byte"} or {"type": "hf-bpe:<hash>"}), plus, for
// an HF tokenizer, the original tokenizer.json / tokenizer_config.json /
// special_tokens_map.json copied unchanged so that HF libraries load the directory as well.
#pragma once

#include <memory>
#include <string>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

inline constexpr const char* kTokenizerFileName = "dpo_tokenizer.json";

// Writes the tokenizer record (and an HF tokenizer's original files) into `directory`, each
// atomically.
void SaveTokenizerFiles(const Tokenizer& tokenizer, const std::string& directory);

// The tokenizer of `directory`: the one its dpo_tokenizer.json records; else its tokenizer.json
// (an HF model directory); else `fallback_spec` (see CreateTokenizer). Throws
// Error(kInvalidInput) naming the file when a record or tokenizer.json is unreadable,
// unsupported, or when tokenizer.json is not the one the record names.
std::shared_ptr<const Tokenizer> LoadTokenizerForModel(const std::string& directory, const std::string& fallback_spec);

}  // namespace dpo
