// Added and special tokens of a tokenizer.json (its "added_tokens"): they are found in the raw
// text before any normalisation or splitting, leftmost first and longest at one position, as HF
// tokenizers do, and are never split or merged.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;
  bool single_word = false;  // match only when not inside a word
  bool lstrip = false;       // the match takes the whitespace on its left
  bool rstrip = false;       // the match takes the whitespace on its right
};

struct AddedTokenMatch {
  std::size_t begin = 0, end = 0;  // the bytes the token replaces, stripped whitespace included
  TokenId id = 0;
};

// Thread safety: immutable after construction.
class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // The first match starting at or after `from`; lstrip never reaches before `from`.
  std::optional<AddedTokenMatch> FindNext(std::string_view text, std::size_t from) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // token indices, longest content first
};

}  // namespace dpo
