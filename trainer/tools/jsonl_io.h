// JSONL input and output for the command-line tools (dpo-data, dpo-generate, dpo-reward): rows
// with their line numbers, string fields whose errors name `file:line: field "x"`, and output
// to a file (atomically) or stdout.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace dpo {

// One non-blank line of a JSONL file, parsed as a JSON object (keys keep their file order).
struct JsonlRow {
  int64_t line = 0;  // 1-based line number in the file
  std::string text;  // the line without its newline (and without a trailing CR)
};

// Reads the non-blank lines of `path`. Throws Error(kInvalidInput) naming the path when it
// cannot be read.
std::vector<JsonlRow> ReadJsonlRows(const std::string& path);

// `path:line`, the prefix of every row error.
std::string RowPlace(const std::string& path, const JsonlRow& row);

// Parses a row as a JSON object. Throws Error(kInvalidInput) `path:line: invalid JSON: ...` or
// `path:line: expected a JSON object`.
nlohmann::ordered_json ParseJsonlObject(const std::string& path, const JsonlRow& row);

// The string value of `field`; throws Error(kInvalidInput) `path:line: field "prompt": missing`
// or `...: expected a string, found number`. (nlohmann's parser already rejects invalid UTF-8.)
std::string RequireStringField(const nlohmann::ordered_json& object, const std::string& field,
                               const std::string& place);

// One JSON value per line. Invalid UTF-8 in strings (text decoded from sampled bytes) is
// replaced by U+FFFD rather than failing the whole file.
std::string ToJsonLine(const nlohmann::ordered_json& value);

// True for "" and "-", the spellings of stdout in --out flags.
bool IsStdoutPath(const std::string& path);

// Writes `lines` (each followed by a newline) to stdout when IsStdoutPath(path), otherwise to
// `path` atomically (temp file + rename). Throws Error(kInternal) on I/O failure.
void WriteLines(const std::string& path, const std::vector<std::string>& lines);

}  // namespace dpo
