// Staging, gathering and committing a checkpoint written by every rank.
#include "trainer/checkpoint/collective_save.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/sha256.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/fault_injection.h"
#include "trainer/comm/communicator.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

// Runs `work` and returns its error message ("" on success).
std::string Attempt(const std::function<void()>& work) {
  try {
    work();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Rank 0's message, the same on every rank afterwards; throws on every rank when it is not "".
void AgreeOnRootOutcome(Communicator& communicator, std::string problem, int64_t step) {
  communicator.Broadcast(problem, 0);
  if (!problem.empty()) {
    throw Error(ErrorKind::kInternal, "checkpoint at step " + std::to_string(step) + " not committed: rank 0: " + problem);
  }
}

}  // namespace

std::string SaveOnEveryRank(Communicator& communicator, const std::string& output_dir, int64_t step,
                            const WriteOptimizerFiles& write, const CommitCheckpoint& commit) {
  const bool root = communicator.rank() == 0;
  const fs::path staging = fs::path(output_dir) / (std::string(kTempPrefix) + std::to_string(step) + "-optimizer-staging");
  std::error_code ignored;
  AgreeOnRootOutcome(communicator, root ? Attempt([&] {
    fs::remove_all(staging);
    fs::create_directories(staging);
  }) : "", step);

  // 2. This rank's files and their digests, or what went wrong.
  nlohmann::json mine = {{"error", ""}, {"files", nlohmann::json::array()}};
  mine["error"] = Attempt([&] {
    MaybeInjectFault("checkpoint.rank" + std::to_string(communicator.rank()) + ".throw", step);
    for (const std::string& name : write(staging.string())) {
      const std::string path = (staging / name).string();
      mine["files"].push_back({{"path", path}, {"sha256", Sha256FileHex(path)}});
    }
  });

  // 3. Everyone's, in rank order.
  std::vector<CheckpointManager::StagedFile> staged;
  std::string failures;
  for (int rank = 0; rank < communicator.world_size(); ++rank) {
    std::string text = rank == communicator.rank() ? mine.dump() : "";
    communicator.Broadcast(text, rank);
    const nlohmann::json theirs = nlohmann::json::parse(text);
    if (!theirs["error"].get<std::string>().empty()) {
      failures += "\n  rank " + std::to_string(rank) + ": " + theirs["error"].get<std::string>();
    }
    for (const auto& file : theirs["files"]) staged.push_back({file["path"], file["sha256"]});
  }
  if (!failures.empty()) {
    if (root) fs::remove_all(staging, ignored);
    throw Error(ErrorKind::kInternal, "checkpoint at step " + std::to_string(step) +
                                          " not committed: optimizer state could not be written:" + failures);
  }

  // 4. Rank 0 commits; everyone learns whether it did.
  std::string directory;
  std::string problem = root ? Attempt([&] { directory = commit(staged); }) : "";
  if (root) fs::remove_all(staging, ignored);
  AgreeOnRootOutcome(communicator, problem, step);
  communicator.Broadcast(directory, 0);
  return directory;
}

}  // namespace dpo
