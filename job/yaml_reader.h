// Typed reads from a YAML mapping that remember which keys were consumed, so a section can
// report unknown keys and every type error at once instead of stopping at the first.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace dpo {

class YamlSectionReader {
 public:
  // `node` may be undefined or null (an absent section: every read keeps its default).
  // Problems are appended to `problems`, each prefixed with "<section>.<key>".
  YamlSectionReader(const YAML::Node& node, std::string section, std::vector<std::string>* problems);

  void Read(const char* key, std::string& value);
  void Read(const char* key, double& value);
  void Read(const char* key, int64_t& value);
  void Read(const char* key, uint64_t& value);
  void Read(const char* key, bool& value);
  // A scalar or a sequence of scalars.
  void Read(const char* key, std::vector<std::string>& value);
  void Read(const char* key, std::vector<double>& value);

  // Every key no Read() has asked for yet, as one JSON object (plain scalars become integers,
  // numbers, booleans or null where they parse as such; quoted ones stay strings), and marks
  // them read: for sections whose remaining keys another parser owns (the model architecture).
  nlohmann::json TakeRemainingAsJson();

  // Reports every key of the mapping that no Read() asked for, and every repeated key (YAML
  // parsers keep one of the values silently).
  void ReportUnknownKeys();

 private:
  // The value of `key`; nullopt when the key is absent or null (the default stays).
  std::optional<YAML::Node> Find(const char* key);
  void Problem(const std::string& key, const std::string& message);

  YAML::Node node_;
  std::string section_;
  std::vector<std::string>* problems_;
  std::vector<std::string> known_keys_;
};

}  // namespace dpo
