// `dpo-data tokenize`: text lines <-> JSON arrays of token ids, so users can inspect how a
// tokenizer splits their data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct TokenizeTextOptions {
  bool add_bos = false;  // prepend the tokenizer's BOS (an error when it has none)
  bool add_eos = false;  // append its EOS
};

struct TokenizeTextResult {
  std::vector<std::string> lines;  // one output line per input line
  int64_t tokens = 0;
};

// The tokenizer named on the command line: a model directory (its dpo_tokenizer.json or
// tokenizer.json), a tokenizer.json file, or "byte". Throws Error(kInvalidInput) for a
// directory holding neither file.
std::shared_ptr<const Tokenizer> LoadTokenizerArgument(const std::string& spec);

// Encodes every line of `text` (split at '\n'; a '\r' stays part of its line; a last line
// without '\n' counts) into a JSON array of ids. Errors name `source:line`.
TokenizeTextResult TokenizeTextLines(const Tokenizer& tokenizer, std::string_view text, const std::string& source,
                                     const TokenizeTextOptions& options);

// The reverse: every line a JSON array of ids (a blank line is an empty text), decoded to one
// text line. Errors name `source:line`.
TokenizeTextResult DecodeIdLines(const Tokenizer& tokenizer, std::string_view text, const std::string& source);

}  // namespace dpo
