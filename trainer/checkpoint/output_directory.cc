// Checks and clean-up of output.dir before training.
#include "trainer/checkpoint/output_directory.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "trainer/checkpoint/checkpoint_layout.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

// What of an earlier run `dir` holds: names relative to it.
std::vector<std::string> EarlierRun(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& [step, path] : ListStepCheckpoints(dir.string())) found.push_back(fs::path(path).filename().string());
  for (const char* name : {kLatestFileName, "final"}) {
    if (fs::exists(dir / name)) found.emplace_back(name);
  }
  return found;
}

std::string Listed(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < 4; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 4) text += " and " + std::to_string(names.size() - 4) + " more";
  return text;
}

}  // namespace

void PrepareOutputDirectory(const OutputSection& output) {
  const fs::path dir(output.dir);
  const std::string where = "output.dir=" + output.dir;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw InvalidInput(where + ": cannot create it: " + error.message());
  const fs::path probe = dir / (".write-test-" + std::to_string(::getpid()));
  {
    std::ofstream out(probe);
    if (!out || !(out << "x") || !out.flush()) {
      throw InvalidInput(where + ": cannot write in it: " + std::strerror(errno));
    }
  }
  fs::remove(probe, error);

  if (output.resume != "never") return;
  const std::vector<std::string> earlier = EarlierRun(dir);
  if (earlier.empty()) return;
  if (!output.overwrite) {
    throw InvalidInput(where + " already holds a run (" + Listed(earlier) +
                       ") and output.resume=never would start over beside it, where a later resume could pick up "
                       "the old checkpoints: set output.overwrite=true to delete that run first, output.resume=auto "
                       "to continue it, or choose another output.dir");
  }
  for (const std::string& name : earlier) fs::remove_all(dir / name);
  for (const char* name : {"metrics.jsonl", "rejects.jsonl", "eval_rejects.jsonl"}) fs::remove(dir / name, error);
}

}  // namespace dpo
