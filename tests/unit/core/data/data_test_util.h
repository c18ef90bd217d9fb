// Shared helpers of the core/data tests: a tokenizer without BOS and the error-message matcher.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo::testing {

// Bytes as ids like ByteTokenizer, but no BOS: ids 0..255 bytes, 256 EOS, 257 PAD.
class NoBosTokenizer final : public Tokenizer {
 public:
  static constexpr TokenId kEosId = 256;
  static constexpr TokenId kPadId = 257;

  std::string Name() const override { return "test-no-bos"; }
  int64_t VocabSize() const override { return 258; }
  std::vector<TokenId> Encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::string Decode(const std::vector<TokenId>& ids) const override {
    std::string text;
    for (const TokenId id : ids) text.push_back(static_cast<char>(id));
    return text;
  }
  std::optional<TokenId> BosId() const override { return std::nullopt; }
  TokenId EosId() const override { return kEosId; }
  TokenId PadId() const override { return kPadId; }
};

// Runs `body`, expecting dpo::Error of `kind` with exactly `message`.
inline void ExpectError(const std::function<void()>& body, ErrorKind kind,
                        const std::string& message) {
  try {
    body();
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), kind);
    EXPECT_EQ(std::string(error.what()), message);
  }
}

inline void ExpectInvalidInput(const std::function<void()>& body, const std::string& message) {
  ExpectError(body, ErrorKind::kInvalidInput, message);
}

}  // namespace dpo::testing
