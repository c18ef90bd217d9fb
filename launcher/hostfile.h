// OpenMPI hostfiles (`host [slots=N] [max_slots=N]`, `#` comments, blank lines): parsed only as
// far as dpo-launch needs to plan ranks and threads; mpirun itself reads the file again.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dpo {

struct HostEntry {
  std::string host;
  std::optional<int> slots;      // absent: OpenMPI counts the host's cores (or takes max_slots)
  std::optional<int> max_slots;
};

struct Hostfile {
  std::string path;
  std::vector<HostEntry> hosts;  // in file order; a host listed twice is merged (slots added)
};

// Parses hostfile text; `path` names it in messages. Throws Error(kInvalidInput) naming
// `path:line` for a bad line (unknown or malformed keyword, non-positive count) and when the
// file lists no host.
Hostfile ParseHostfile(const std::string& text, const std::string& path);
// Reads and parses the file (Error(kInvalidInput) when unreadable).
Hostfile ReadHostfile(const std::string& path);

}  // namespace dpo
