// Leftmost-longest matching of added tokens, with HF's single_word / lstrip / rstrip options.
#include "core/tokenizer/added_tokens.h"

#include <algorithm>

namespace dpo {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Word characters for single_word: ASCII letters, digits, '_' and any non-ASCII byte.
bool IsWordByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](uint32_t a, uint32_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

std::optional<AddedTokenMatch> AddedTokenMatcher::FindNext(std::string_view text, std::size_t from) const {
  if (tokens_.empty()) return std::nullopt;
  for (std::size_t i = from; i < text.size(); ++i) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[i])];
    for (const uint32_t index : bucket) {
      const AddedToken& token = tokens_[index];
      const std::size_t length = token.content.size();
      if (text.compare(i, length, token.content) != 0) continue;
      std::size_t begin = i, end = i + length;
      if (token.single_word) {
        const bool word_before = begin > 0 && IsWordByte(text[begin - 1]) && IsWordByte(token.content.front());
        const bool word_after = end < text.size() && IsWordByte(text[end]) && IsWordByte(token.content.back());
        if (word_before || word_after) continue;
      }
      if (token.lstrip) {
        while (begin > from && IsSpace(text[begin - 1])) --begin;
      }
      if (token.rstrip) {
        while (end < text.size() && IsSpace(text[end])) ++end;
      }
      return AddedTokenMatch{begin, end, token.id};
    }
  }
  return std::nullopt;
}

}  // namespace dpo
