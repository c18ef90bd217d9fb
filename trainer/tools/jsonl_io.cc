// JSONL helpers shared by the tools.
#include "trainer/tools/jsonl_io.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {

std::vector<JsonlRow> ReadJsonlRows(const std::string& path) {
  const std::string contents = ReadFile(path);
  std::vector<JsonlRow> rows;
  int64_t line_number = 0;
  size_t start = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string::npos) end = contents.size();
    ++line_number;
    std::string line = contents.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) rows.push_back({line_number, std::move(line)});
    start = end + 1;
  }
  return rows;
}

std::string RowPlace(const std::string& path, const JsonlRow& row) { return path + ":" + std::to_string(row.line); }

nlohmann::ordered_json ParseJsonlObject(const std::string& path, const JsonlRow& row) {
  nlohmann::ordered_json value;
  try {
    value = nlohmann::ordered_json::parse(row.text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(RowPlace(path, row) + ": invalid JSON: " + e.what());
  }
  if (!value.is_object()) throw InvalidInput(RowPlace(path, row) + ": expected a JSON object");
  return value;
}

std::string RequireStringField(const nlohmann::ordered_json& object, const std::string& field,
                               const std::string& place) {
  const auto it = object.find(field);
  if (it == object.end()) throw InvalidInput(place + ": field \"" + field + "\": missing");
  if (!it->is_string()) {
    throw InvalidInput(place + ": field \"" + field + "\": expected a string, found " + it->type_name());
  }
  return it->get<std::string>();
}

std::string ToJsonLine(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

bool IsStdoutPath(const std::string& path) { return path.empty() || path == "-"; }

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  if (IsStdoutPath(path)) {
    for (const auto& line : lines) std::cout << line << '\n';
    std::cout.flush();
    if (!std::cout) throw Error(ErrorKind::kInternal, "writing to stdout failed");
    return;
  }
  std::string contents;
  for (const auto& line : lines) contents.append(line).push_back('\n');
  WriteFileAtomically(path, contents);
}

}  // namespace dpo
