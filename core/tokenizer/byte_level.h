// GPT-2's byte-level alphabet: every byte is shown as one printable code point, so that
// tokenizer.json vocabularies and merges are plain strings. Used at load time to turn
// vocabulary strings into raw bytes, and to repair decoded byte strings into valid UTF-8.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace dpo {

// The byte -> code point table of GPT-2's bytes_to_unicode(): the printable bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves; the other 68 bytes map, in
// increasing order, to U+0100, U+0101, ... (space 0x20 -> U+0120 'Ġ', '\n' -> U+010A 'Ċ').
const std::array<char32_t, 256>& ByteToUnicodeTable();

// Raw bytes -> their byte-level spelling (UTF-8), e.g. " hi" -> "Ġhi".
std::string BytesToByteLevel(std::string_view bytes);

// A byte-level spelling -> the raw bytes, or nullopt when it holds a code point outside the
// alphabet or is not valid UTF-8.
std::optional<std::string> ByteLevelToBytes(std::string_view byte_level);

// Appends the UTF-8 encoding of `code_point` (<= U+10FFFF) to `out`.
void AppendUtf8(char32_t code_point, std::string* out);

// `bytes` with every invalid UTF-8 sequence replaced by U+FFFD, one per maximal invalid
// subpart (the WHATWG / Rust from_utf8_lossy rule, as HF tokenizers' decode does).
std::string ToValidUtf8(std::string_view bytes);

}  // namespace dpo
