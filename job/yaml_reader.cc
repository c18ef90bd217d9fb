// YamlSectionReader: conversions with messages that name the key and what was found.
#include "job/yaml_reader.h"

#include <algorithm>
#include <cmath>

namespace dpo {
namespace {

std::string Describe(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "\"" + node.Scalar() + "\"";
}

// A YAML node as JSON: mappings and sequences recursively; a plain (unquoted) scalar as what it
// reads as in YAML 1.2's core schema (null, bool, integer, number), else a string.
nlohmann::json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& entry : node) object[entry.first.Scalar()] = ToJson(entry.second);
    return object;
  }
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(ToJson(item));
    return array;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string& text = node.Scalar();
  if (node.Tag() != "?") return text;  // quoted
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  if (text == "true" || text == "false") return text == "true";
  long long integer = 0;
  if (YAML::convert<long long>::decode(node, integer)) return integer;
  double number = 0;
  if (YAML::convert<double>::decode(node, number) && std::isfinite(number)) return number;
  return text;
}

}  // namespace

YamlSectionReader::YamlSectionReader(const YAML::Node& node, std::string section, std::vector<std::string>* problems)
    : node_(node), section_(std::move(section)), problems_(problems) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    problems_->push_back(section_ + ": expected a mapping of keys, found " + Describe(node_));
    node_ = YAML::Node();
  }
}

void YamlSectionReader::Problem(const std::string& key, const std::string& message) {
  problems_->push_back(section_ + "." + key + ": " + message);
}

std::optional<YAML::Node> YamlSectionReader::Find(const char* key) {
  known_keys_.emplace_back(key);
  if (!node_.IsDefined() || node_.IsNull()) return std::nullopt;
  const YAML::Node& mapping = node_;  // const: operator[] must not insert the key
  YAML::Node value = mapping[key];
  if (!value.IsDefined() || value.IsNull()) return std::nullopt;
  return value;
}

void YamlSectionReader::Read(const char* key, std::string& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  if (!node.IsScalar()) return Problem(key, "expected a string, found " + Describe(node));
  value = node.Scalar();
}

void YamlSectionReader::Read(const char* key, double& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  double parsed = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, parsed) || !std::isfinite(parsed)) {
    return Problem(key, "expected a finite number, found " + Describe(node));
  }
  value = parsed;
}

void YamlSectionReader::Read(const char* key, int64_t& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  long long parsed = 0;
  if (!node.IsScalar() || !YAML::convert<long long>::decode(node, parsed)) {
    return Problem(key, "expected an integer, found " + Describe(node));
  }
  value = parsed;
}

void YamlSectionReader::Read(const char* key, uint64_t& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  unsigned long long parsed = 0;
  if (!node.IsScalar() || node.Scalar().rfind('-', 0) == 0 || !YAML::convert<unsigned long long>::decode(node, parsed)) {
    return Problem(key, "expected a non-negative integer, found " + Describe(node));
  }
  value = parsed;
}

void YamlSectionReader::Read(const char* key, bool& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  bool parsed = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, parsed)) {
    return Problem(key, "expected true or false, found " + Describe(node));
  }
  value = parsed;
}

void YamlSectionReader::Read(const char* key, std::vector<std::string>& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  if (node.IsScalar()) {
    value = {node.Scalar()};
    return;
  }
  if (!node.IsSequence()) return Problem(key, "expected a string or a list of strings, found " + Describe(node));
  std::vector<std::string> items;
  for (const auto& item : node) {
    if (!item.IsScalar()) return Problem(key, "expected a list of strings, found an element that is " + Describe(item));
    items.push_back(item.Scalar());
  }
  value = items;
}

void YamlSectionReader::Read(const char* key, std::vector<double>& value) {
  const std::optional<YAML::Node> found = Find(key);
  if (!found) return;
  const YAML::Node& node = *found;
  std::vector<double> items;
  const auto add = [&](const YAML::Node& item) {
    double parsed = 0;
    if (!item.IsScalar() || !YAML::convert<double>::decode(item, parsed) || !std::isfinite(parsed)) {
      Problem(key, "expected finite numbers, found " + Describe(item));
      return false;
    }
    items.push_back(parsed);
    return true;
  };
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!add(item)) return;
    }
  } else if (!add(node)) {
    return;
  }
  value = items;
}

nlohmann::json YamlSectionReader::TakeRemainingAsJson() {
  nlohmann::json object = nlohmann::json::object();
  if (!node_.IsDefined() || node_.IsNull()) return object;
  std::vector<std::string> taken;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end()) continue;
    object[key] = ToJson(entry.second);
    taken.push_back(key);
  }
  known_keys_.insert(known_keys_.end(), taken.begin(), taken.end());
  return object;
}

void YamlSectionReader::ReportUnknownKeys() {
  if (!node_.IsDefined() || node_.IsNull()) return;
  std::vector<std::string> seen;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      Problem(key, "appears more than once (YAML keys must be unique)");
      continue;
    }
    seen.push_back(key);
    if (std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end()) continue;
    std::string known;
    for (const auto& name : known_keys_) known += (known.empty() ? "" : ", ") + name;
    Problem(key, "unknown key (known keys: " + known + ")");
  }
}

}  // namespace dpo
