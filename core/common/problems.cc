#include "core/common/problems.h"

#include <algorithm>

#include "core/common/error.h"

namespace dpo {

void ThrowIfProblems(const std::string& heading, const std::vector<std::string>& problems, std::size_t max_shown,
                     const std::string& more_note) {
  if (problems.empty()) return;
  std::string message = heading;
  const std::size_t shown = std::min(problems.size(), max_shown);
  for (std::size_t i = 0; i < shown; ++i) message += "\n  " + problems[i];
  if (shown < problems.size()) {
    message += "\n  ... " + std::to_string(problems.size() - shown) + " more";
    if (!more_note.empty()) message += " (" + more_note + ")";
  }
  throw InvalidInput(message);
}

std::string CountOf(int64_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string JoinProblems(const std::vector<std::string>& problems) {
  std::string joined;
  for (const std::string& problem : problems) {
    if (!joined.empty()) joined += "; ";
    joined += problem;
  }
  return joined;
}

}  // namespace dpo
