// The tokenizer's record inside a model directory, so a saved model names the tokenizer it was
// trained with: `dpo_tokenizer.json` ({"type": "byte"}). HF tokenizer.json files join later.
#pragma once

#include <memory>
#include <string>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

inline constexpr const char* kTokenizerFileName = "dpo_tokenizer.json";

// Writes the tokenizer record into `directory` (atomically).
void SaveTokenizerFiles(const Tokenizer& tokenizer, const std::string& directory);

// The tokenizer recorded in `directory`; `fallback_spec` (e.g. "byte") when there is no record.
// Throws Error(kInvalidInput) naming the file when the record is unreadable or unsupported.
std::shared_ptr<const Tokenizer> LoadTokenizerForModel(const std::string& directory, const std::string& fallback_spec);

}  // namespace dpo
