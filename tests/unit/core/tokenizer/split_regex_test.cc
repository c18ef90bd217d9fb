// SplitRegex: \s and \S are Unicode White_Space as in HF tokenizers (PCRE2 alone would also count
// U+180E), in and outside character classes; escaped backslashes and \Q...\E are left alone.
#include "core/tokenizer/split_regex.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

std::vector<std::string> Pieces(const std::string& pattern, const std::string& text) {
  std::vector<std::string_view> views;
  SplitRegex::Compile(pattern)->Split(text, &views);
  return std::vector<std::string>(views.begin(), views.end());
}

const std::string kMongolianVowelSeparator = "\xE1\xA0\x8E";  // U+180E: not White_Space since Unicode 6.3
const std::string kNextLine = "\xC2\x85";                     // U+0085: White_Space
const std::string kIdeographicSpace = "\xE3\x80\x80";         // U+3000: White_Space

TEST(SplitRegexTest, WhitespaceIsUnicodeWhiteSpace) {
  if (!SplitRegexAvailable()) GTEST_SKIP() << "built without PCRE2";
  EXPECT_EQ(Pieces(R"(\s+)", "a" + kMongolianVowelSeparator + "b"),
            (std::vector<std::string>{"a" + kMongolianVowelSeparator + "b"}));
  EXPECT_EQ(Pieces(R"(\s+)", "a" + kNextLine + kIdeographicSpace + "b"),
            (std::vector<std::string>{"a", kNextLine + kIdeographicSpace, "b"}));
  // Inside a class, and \S: U+180E is "not whitespace" there as well.
  EXPECT_EQ(Pieces(R"([^\s\p{L}]+)", "ab" + kMongolianVowelSeparator + " c"),
            (std::vector<std::string>{"ab", kMongolianVowelSeparator, " c"}));
  EXPECT_EQ(Pieces(R"(\S+)", "x" + kMongolianVowelSeparator + " y"),
            (std::vector<std::string>{"x" + kMongolianVowelSeparator, " ", "y"}));
}

TEST(SplitRegexTest, EscapedBackslashesAndQuotedTextAreNotWhitespaceClasses) {
  if (!SplitRegexAvailable()) GTEST_SKIP() << "built without PCRE2";
  EXPECT_EQ(Pieces(R"(\\s)", R"(a\sb)"), (std::vector<std::string>{"a", R"(\s)", "b"}));
  EXPECT_EQ(Pieces(R"(\Q\s\E)", R"(a\s b)"), (std::vector<std::string>{"a", R"(\s)", " b"}));
  // A literal pattern (tokenizer.json {"String": ...}) is text, never a class.
  std::vector<std::string_view> views;
  const std::string text = R"(a\s b)";
  SplitRegex::Compile(R"(\s)", /*literal=*/true)->Split(text, &views);
  EXPECT_EQ(std::vector<std::string>(views.begin(), views.end()), (std::vector<std::string>{"a", R"(\s)", " b"}));
}

// A compile error's offset counts in the pattern PCRE2 saw: when \s was rewritten, that pattern is
// named; otherwise the message is about the pattern as given.
TEST(SplitRegexTest, ErrorsNameThePatternTheOffsetCountsIn) {
  if (!SplitRegexAvailable()) GTEST_SKIP() << "built without PCRE2";
  const auto message_of = [](const std::string& pattern) -> std::string {
    try {
      SplitRegex::Compile(pattern);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  const std::string rewritten = message_of(R"(\s+(a)");
  EXPECT_NE(rewritten.find("invalid regex at offset"), std::string::npos) << rewritten;
  EXPECT_NE(rewritten.find(R"(as compiled, \s written as \p{White_Space}: \p{White_Space}+(a)"), std::string::npos)
      << rewritten;
  const std::string plain = message_of("a+(b");
  EXPECT_NE(plain.find("invalid regex at offset"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("as compiled"), std::string::npos) << plain;
}

}  // namespace
}  // namespace dpo
