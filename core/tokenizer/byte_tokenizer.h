// The built-in byte tokenizer: one id per UTF-8 byte plus three specials.
//   ids 0..255: bytes; 256: BOS "<|bos|>"; 257: EOS "<|eos|>"; 258: PAD "<|pad|>".
#pragma once

#include "core/tokenizer/tokenizer.h"

namespace dpo {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr TokenId kBosId = 256;
  static constexpr TokenId kEosId = 257;
  static constexpr TokenId kPadId = 258;
  static constexpr int64_t kVocabSize = 259;

  std::string Name() const override { return "byte"; }
  int64_t VocabSize() const override { return kVocabSize; }
  std::vector<TokenId> Encode(std::string_view text) const override;
  std::string Decode(const std::vector<TokenId>& ids) const override;
  std::optional<TokenId> BosId() const override { return kBosId; }
  TokenId EosId() const override { return kEosId; }
  TokenId PadId() const override { return kPadId; }
};

}  // namespace dpo
