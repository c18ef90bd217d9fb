// Hostfile parsing: one host per line, `key=value` qualifiers, comments and blank lines.
#include "launcher/hostfile.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace {

// A positive count, or nullopt when `text` is not one.
std::optional<int> ParseCount(const std::string& text) {
  const auto is_digit = [](unsigned char c) { return std::isdigit(c) != 0; };
  if (text.empty() || text.size() > 9 || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
  const int value = std::stoi(text);
  if (value < 1) return std::nullopt;
  return value;
}

void AddSlots(std::optional<int>& total, const std::optional<int>& more) {
  if (more) total = total.value_or(0) + *more;
}

}  // namespace

Hostfile ParseHostfile(const std::string& text, const std::string& path) {
  Hostfile hostfile;
  hostfile.path = path;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    HostEntry entry;
    if (!(words >> entry.host)) continue;  // blank or comment only
    if (entry.host.find('=') != std::string::npos) {
      throw InvalidInput(where + "expected a host name first, found \"" + entry.host + "\"");
    }
    for (std::string word; words >> word;) {
      const auto equals = word.find('=');
      const std::string key = word.substr(0, equals);
      const std::string value = equals == std::string::npos ? "" : word.substr(equals + 1);
      std::optional<int>* target = nullptr;
      if (key == "slots") target = &entry.slots;
      if (key == "max_slots" || key == "max-slots") target = &entry.max_slots;
      if (target == nullptr || equals == std::string::npos) {
        throw InvalidInput(where + "unknown qualifier \"" + word + "\" (expected slots=N or max_slots=N)");
      }
      *target = ParseCount(value);
      if (!*target) throw InvalidInput(where + key + "=\"" + value + "\" must be a positive integer");
    }
    if (entry.slots && entry.max_slots && *entry.slots > *entry.max_slots) {
      throw InvalidInput(where + "slots=" + std::to_string(*entry.slots) + " exceeds max_slots=" +
                         std::to_string(*entry.max_slots));
    }
    const auto same = std::find_if(hostfile.hosts.begin(), hostfile.hosts.end(),
                                   [&](const HostEntry& known) { return known.host == entry.host; });
    if (same == hostfile.hosts.end()) {
      hostfile.hosts.push_back(entry);
    } else {
      AddSlots(same->slots, entry.slots);
      AddSlots(same->max_slots, entry.max_slots);
    }
  }
  if (hostfile.hosts.empty()) throw InvalidInput(path + ": no hosts listed");
  return hostfile;
}

Hostfile ReadHostfile(const std::string& path) { return ParseHostfile(ReadFile(path), path); }

}  // namespace dpo
