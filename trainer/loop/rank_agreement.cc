// Line-by-line comparison of rank descriptions, and the collective check built on it.
#include "trainer/loop/rank_agreement.h"

#include <sstream>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "trainer/comm/communicator.h"

namespace dpo {
namespace {

struct KeyedLine {
  std::string key;    // dotted path, e.g. "training.learning_rate"
  std::string value;  // text after "key:", trimmed; list items for list lines
};

// Flattens "a:\n  b: 1\n  c:\n    - x\n" into {a.b: 1}, {a.c: - x}: every line keyed by the
// dotted path of the mapping keys above it.
std::vector<KeyedLine> KeyLines(const std::string& text) {
  std::vector<KeyedLine> lines;
  std::vector<std::pair<size_t, std::string>> path;  // (indent, key)
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    const std::string body = line.substr(indent);
    while (!path.empty() && path.back().first >= indent && body.rfind("- ", 0) != 0) path.pop_back();
    std::string key;
    std::string value = body;
    const size_t colon = body.find(": ");
    const bool is_key = body.rfind("- ", 0) != 0 && (colon != std::string::npos || body.back() == ':');
    if (is_key) {
      key = colon != std::string::npos ? body.substr(0, colon) : body.substr(0, body.size() - 1);
      value = colon != std::string::npos ? body.substr(colon + 2) : "";
    }
    std::string dotted;
    for (const auto& [unused, part] : path) dotted += (dotted.empty() ? "" : ".") + part;
    if (is_key) {
      dotted += (dotted.empty() ? "" : ".") + key;
      path.emplace_back(indent, key);
    }
    lines.push_back({dotted, value});
  }
  return lines;
}

}  // namespace

std::string FirstDifference(const std::string& ours, const std::string& theirs) {
  const std::vector<KeyedLine> a = KeyLines(ours);
  const std::vector<KeyedLine> b = KeyLines(theirs);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size()) return b[i].key + ": (absent) vs " + b[i].value;
    if (i >= b.size()) return a[i].key + ": " + a[i].value + " vs (absent)";
    if (a[i].key != b[i].key) return a[i].key + ": " + a[i].value + " vs (key " + b[i].key + ")";
    if (a[i].value != b[i].value) return a[i].key + ": " + a[i].value + " vs " + b[i].value;
  }
  return "";
}

void CheckRanksAgree(Communicator& communicator, const std::string& description, const std::string& what) {
  const int world = communicator.world_size();
  if (world == 1) return;
  std::string reference = description;
  communicator.Broadcast(reference, 0);
  const std::string difference = FirstDifference(description, reference);
  std::vector<double> differs(static_cast<size_t>(world), 0.0);
  differs[static_cast<size_t>(communicator.rank())] = difference.empty() ? 0.0 : 1.0;
  communicator.AllReduceSum(differs);
  for (int rank = 1; rank < world; ++rank) {
    if (differs[static_cast<size_t>(rank)] == 0.0) continue;
    std::string message = difference;
    communicator.Broadcast(message, rank);
    // message is "<key>: <rank's value> vs <rank 0's value>"
    throw InvalidInput("ranks disagree on " + what + ": rank " + std::to_string(rank) + " differs from rank 0 at " +
                       message + " (rank " + std::to_string(rank) + "'s value first); every rank must run the same job");
  }
}

}  // namespace dpo
