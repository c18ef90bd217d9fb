// FindInvalidUtf8: valid multi-byte text and each kind of invalid sequence, with exact offsets.
#include "core/common/utf8.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace dpo {
namespace {

struct Utf8Case {
  std::string name;
  std::string text;
  std::optional<std::size_t> invalid_at;
};

class FindInvalidUtf8Test : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(FindInvalidUtf8Test, ReportsFirstInvalidOffset) {
  const Utf8Case& c = GetParam();
  EXPECT_EQ(FindInvalidUtf8(c.text), c.invalid_at);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FindInvalidUtf8Test,
    ::testing::Values(
        Utf8Case{"Empty", "", std::nullopt},
        Utf8Case{"Ascii", "hello, world", std::nullopt},
        Utf8Case{"EmbeddedNul", std::string("a\0b", 3), std::nullopt},
        Utf8Case{"TwoByte", "caf\xC3\xA9", std::nullopt},
        Utf8Case{"ThreeByte", "\xE2\x82\xAC 5", std::nullopt},
        Utf8Case{"FourByte", "\xF0\x9F\x98\x80!", std::nullopt},
        Utf8Case{"LastBeforeSurrogates", "\xED\x9F\xBF", std::nullopt},      // U+D7FF
        Utf8Case{"FirstAfterSurrogates", "\xEE\x80\x80", std::nullopt},      // U+E000
        Utf8Case{"MaxCodePoint", "\xF4\x8F\xBF\xBF", std::nullopt},          // U+10FFFF
        Utf8Case{"Noncharacter", "\xEF\xB7\x90", std::nullopt},              // U+FDD0 is valid
        Utf8Case{"LoneContinuation", "ab\x80", 2},
        Utf8Case{"InvalidLeadFF", "\xC3\xA9\xFF", 2},
        Utf8Case{"InvalidLeadF8", "x\xF8\x88\x80\x80\x80", 1},
        Utf8Case{"OverlongTwoByteC0", "ab\xC0\xAF", 2},
        Utf8Case{"OverlongTwoByteC1", "\xC1\xBF", 0},
        Utf8Case{"OverlongThreeByte", "a\xE0\x80\xAF", 1},
        Utf8Case{"OverlongFourByte", "\xF0\x82\x82\xAC", 0},
        Utf8Case{"HighSurrogate", "abc\xED\xA0\x80", 3},                    // U+D800
        Utf8Case{"LowSurrogate", "\xED\xBF\xBF", 0},                        // U+DFFF
        Utf8Case{"TruncatedAtEnd", "abc\xE2\x82", 3},
        Utf8Case{"TruncatedBeforeAscii", "\xE2\x82" "a", 0},
        Utf8Case{"TruncatedFourByte", "\xC3\xA9\xF0\x9F\x98", 2},
        Utf8Case{"AboveMaxF4", "\xF4\x90\x80\x80", 0},                      // U+110000
        Utf8Case{"AboveMaxF5", "ok\xF5\x80\x80\x80", 2},
        Utf8Case{"FirstOfSeveral", "\xC3\xA9x\x80\xFF", 3}),
    [](const ::testing::TestParamInfo<Utf8Case>& info) { return info.param.name; });

}  // namespace
}  // namespace dpo
