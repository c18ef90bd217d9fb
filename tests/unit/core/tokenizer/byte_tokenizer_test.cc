// ByteTokenizer: byte-exact encoding, UTF-8 round trips, special ids and their names, errors.
#include "core/tokenizer/byte_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/common/error.h"

namespace dpo {
namespace {

TEST(ByteTokenizerTest, EncodesEachUtf8ByteAsItsValue) {
  const ByteTokenizer tokenizer;
  // "aé€😀": 1 + 2 + 3 + 4 bytes; bytes >= 0x80 must not come out negative (char is signed).
  EXPECT_EQ(tokenizer.Encode("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            (std::vector<TokenId>{97, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80}));
  EXPECT_EQ(tokenizer.Encode(std::string("\0\xFF", 2)), (std::vector<TokenId>{0, 255}));
  EXPECT_TRUE(tokenizer.Encode("").empty());
}

TEST(ByteTokenizerTest, RoundTripsUtf8Text) {
  const ByteTokenizer tokenizer;
  for (const std::string& text :
       {std::string("plain ascii"), std::string("caf\xC3\xA9 \xE2\x82\xAC" "5"),
        std::string("\xF0\x9F\x98\x80 emoji\nnew line\ttab"), std::string("nul\0inside", 10),
        std::string("")}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(text)), text);
  }
}

TEST(ByteTokenizerTest, SpecialIdsAndVocabulary) {
  const ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.Name(), "byte");
  EXPECT_EQ(tokenizer.VocabSize(), 259);
  ASSERT_TRUE(tokenizer.BosId().has_value());
  EXPECT_EQ(*tokenizer.BosId(), 256);
  EXPECT_EQ(tokenizer.EosId(), 257);
  EXPECT_EQ(tokenizer.PadId(), 258);
}

TEST(ByteTokenizerTest, DecodesSpecialsByName) {
  const ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.Decode({256, 'h', 'i', 257, 258, 258}), "<|bos|>hi<|eos|><|pad|><|pad|>");
}

TEST(ByteTokenizerTest, DecodeRejectsIdsOutsideVocabulary) {
  const ByteTokenizer tokenizer;
  const struct {
    TokenId id;
    std::string message;
  } cases[] = {
      {259, "byte tokenizer: cannot decode id 259 (vocabulary is [0, 259))"},
      {-1, "byte tokenizer: cannot decode id -1 (vocabulary is [0, 259))"},
      {100000, "byte tokenizer: cannot decode id 100000 (vocabulary is [0, 259))"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    try {
      tokenizer.Decode({'o', 'k', c.id});
      ADD_FAILURE() << "expected an error";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
      EXPECT_EQ(std::string(error.what()), c.message);
    }
  }
}

TEST(CreateTokenizerTest, ByteSpecCreatesByteTokenizer) {
  const auto tokenizer = CreateTokenizer("byte");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Name(), "byte");
  EXPECT_EQ(tokenizer->Encode("A"), std::vector<TokenId>{65});
}

TEST(CreateTokenizerTest, UnknownSpecNamesSpecAndSupportedKinds) {
  try {
    CreateTokenizer("gpt2");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()),
              "tokenizer \"gpt2\" is not supported (supported: byte, or the path of an HF tokenizer.json or of the "
              "directory holding it)");
  }
}

}  // namespace
}  // namespace dpo
