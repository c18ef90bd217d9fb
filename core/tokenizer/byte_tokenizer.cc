// Byte tokenizer: identity on bytes, names for the specials.
#include "core/tokenizer/byte_tokenizer.h"

#include "core/common/error.h"

namespace dpo {

std::vector<TokenId> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size());
  for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string ByteTokenizer::Decode(const std::vector<TokenId>& ids) const {
  std::string text;
  text.reserve(ids.size());
  for (const TokenId id : ids) {
    if (id >= 0 && id < 256) {
      text.push_back(static_cast<char>(id));
    } else if (id == kBosId) {
      text += "<|bos|>";
    } else if (id == kEosId) {
      text += "<|eos|>";
    } else if (id == kPadId) {
      text += "<|pad|>";
    } else {
      throw InvalidInput("byte tokenizer: cannot decode id " + std::to_string(id) +
                         " (vocabulary is [0, " + std::to_string(kVocabSize) + "))");
    }
  }
  return text;
}

}  // namespace dpo
