// GPT-2's byte <-> unicode table, byte-level spelling round trips and lossy UTF-8 repair.
#include "core/tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace dpo {
namespace {

TEST(ByteLevelTest, TableMatchesGpt2BytesToUnicode) {
  const auto& table = ByteToUnicodeTable();
  // Printable bytes map to themselves; the rest, in order, from U+0100 up.
  EXPECT_EQ(table['!'], U'!');
  EXPECT_EQ(table['~'], U'~');
  EXPECT_EQ(table[0xA1], U'\u00A1');
  EXPECT_EQ(table[0xAC], U'\u00AC');
  EXPECT_EQ(table[0xAE], U'\u00AE');
  EXPECT_EQ(table[0xFF], U'\u00FF');
  EXPECT_EQ(table[0x00], U'\u0100');
  EXPECT_EQ(table['\t'], U'\u0109');
  EXPECT_EQ(table['\n'], U'\u010A');  // 'Ċ'
  EXPECT_EQ(table[' '], U'\u0120');   // 'Ġ'
  EXPECT_EQ(table[0x7F], U'\u0121');
  EXPECT_EQ(table[0xA0], U'\u0142');
  EXPECT_EQ(table[0xAD], U'\u0143');  // the last of the 68 remapped bytes
  std::set<char32_t> distinct(table.begin(), table.end());
  EXPECT_EQ(distinct.size(), 256u);
  int identity = 0;
  for (int b = 0; b < 256; ++b) identity += table[b] == static_cast<char32_t>(b);
  EXPECT_EQ(identity, 188);
}

TEST(ByteLevelTest, SpellingRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string spelling = BytesToByteLevel(all);
  const auto back = ByteLevelToBytes(spelling);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  EXPECT_EQ(BytesToByteLevel(" hi\n"), "\xC4\xA0hi\xC4\x8A");  // "Ġhi" + "Ċ"
  EXPECT_EQ(BytesToByteLevel("\xC3\xA9"), "\xC3\x83\xC2\xA9");  // é = C3 A9 -> "Ã©"
}

TEST(ByteLevelTest, RejectsCodePointsOutsideTheAlphabet) {
  EXPECT_FALSE(ByteLevelToBytes(" ").has_value());             // a raw space is spelled 'Ġ'
  EXPECT_FALSE(ByteLevelToBytes("\xE2\x82\xAC").has_value());  // '€' (U+20AC)
  EXPECT_FALSE(ByteLevelToBytes("\xC5\x84").has_value());      // U+0144, just past the alphabet
  EXPECT_FALSE(ByteLevelToBytes("\xC3").has_value());          // truncated UTF-8
  EXPECT_EQ(ByteLevelToBytes(""), std::string());
}

TEST(ByteLevelTest, ToValidUtf8ReplacesEachMaximalInvalidSubpart) {
  const struct {
    std::string in, out;
  } cases[] = {
      {"plain", "plain"},
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"\xF0\x9F\x98", "\xEF\xBF\xBD"},                   // a cut 4-byte sequence: one U+FFFD
      {"a\xF0\x9F\x98" "b", "a\xEF\xBF\xBD" "b"},
      {"\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},           // lone continuation bytes: one each
      {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},           // overlong lead
      {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // a surrogate
      {"\xE2\x82", "\xEF\xBF\xBD"},
      {"\xFF" "x", "\xEF\xBF\xBD" "x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(ToValidUtf8(c.in), c.out);
  }
}

}  // namespace
}  // namespace dpo
