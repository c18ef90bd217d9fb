// GPT-2's bytes_to_unicode() table, its inverse, and lossy UTF-8 repair.
#include "core/tokenizer/byte_level.h"

#include <cstdint>

namespace dpo {
namespace {

bool IsPrintableByte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

std::array<char32_t, 256> BuildTable() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) table[b] = IsPrintableByte(b) ? static_cast<char32_t>(b) : next++;
  return table;
}

// Code point -> byte for the 324 code points below U+0144 the alphabet uses; -1 elsewhere.
std::array<int16_t, 0x144> BuildInverse() {
  std::array<int16_t, 0x144> inverse{};
  inverse.fill(-1);
  const auto& table = ByteToUnicodeTable();
  for (int b = 0; b < 256; ++b) inverse[table[b]] = static_cast<int16_t>(b);
  return inverse;
}

// Length of the valid UTF-8 sequence at `p` (1..4), or 0 when invalid; `*subpart` receives the
// length of the maximal invalid prefix to replace by one U+FFFD.
int ValidSequenceLength(const unsigned char* p, std::size_t available, std::size_t* subpart) {
  const unsigned char lead = p[0];
  int length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    *subpart = 1;
    return 0;
  }
  std::size_t i = 1;
  for (; i < static_cast<std::size_t>(length); ++i) {
    if (i >= available) break;
    const unsigned char c = p[i];
    const bool ok = i == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  if (i == static_cast<std::size_t>(length)) return length;
  *subpart = i;
  return 0;
}

}  // namespace

const std::array<char32_t, 256>& ByteToUnicodeTable() {
  static const std::array<char32_t, 256> table = BuildTable();
  return table;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string BytesToByteLevel(std::string_view bytes) {
  const auto& table = ByteToUnicodeTable();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) AppendUtf8(table[static_cast<unsigned char>(c)], &out);
  return out;
}

std::optional<std::string> ByteLevelToBytes(std::string_view byte_level) {
  static const std::array<int16_t, 0x144> inverse = BuildInverse();
  std::string bytes;
  bytes.reserve(byte_level.size());
  const auto* p = reinterpret_cast<const unsigned char*>(byte_level.data());
  const std::size_t size = byte_level.size();
  std::size_t i = 0;
  while (i < size) {
    std::size_t subpart = 0;
    const int length = ValidSequenceLength(p + i, size - i, &subpart);
    if (length == 0 || length > 2) return std::nullopt;  // every alphabet code point is < U+0800
    const char32_t c = length == 1 ? p[i] : ((p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
    if (c >= inverse.size() || inverse[c] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(inverse[c]));
    i += length;
  }
  return bytes;
}

std::string ToValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  std::string out;
  out.reserve(size);
  std::size_t i = 0;
  while (i < size) {
    std::size_t subpart = 0;
    const int length = ValidSequenceLength(p + i, size - i, &subpart);
    if (length > 0) {
      out.append(bytes.data() + i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      i += subpart;
    }
  }
  return out;
}

}  // namespace dpo
