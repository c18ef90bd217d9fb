// Strict UTF-8 validation (RFC 3629).
#include "core/common/utf8.h"

#include <cstdint>

namespace dpo {

std::optional<std::size_t> FindInvalidUtf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    int continuation = 0;
    uint32_t code_point = 0;
    uint32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
      continuation = 1, code_point = lead & 0x1F, minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      continuation = 2, code_point = lead & 0x0F, minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      continuation = 3, code_point = lead & 0x07, minimum = 0x10000;
    } else {
      return i;
    }
    for (int k = 1; k <= continuation; ++k) {
      if (i + k >= size || (bytes[i + k] & 0xC0) != 0x80) return i;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += continuation + 1;
  }
  return std::nullopt;
}

}  // namespace dpo
