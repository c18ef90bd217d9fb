// UTF-8 validation for text read from data files.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace dpo {

// Returns the byte offset of the first invalid sequence (overlong forms, surrogates and code
// points above U+10FFFF are invalid), or nullopt when `text` is valid UTF-8.
std::optional<std::size_t> FindInvalidUtf8(std::string_view text);

}  // namespace dpo
