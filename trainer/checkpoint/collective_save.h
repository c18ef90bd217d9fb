// Saving a checkpoint whose optimizer state every rank holds a part of (ZeRO), so that it is
// committed only when every part is on disk and verified, and every rank agrees on the outcome.
//
//   1. rank 0 makes an empty staging directory under the output directory (a kTempPrefix name,
//      so a crash leaves only debris that the next start removes);
//   2. every rank writes its optimizer files there (WriteState) and computes their SHA-256;
//   3. every rank learns every rank's files, digests and errors (one broadcast per rank);
//   4. when all succeeded, rank 0 commits (CheckpointManager::Save moves the files in, checks
//      each digest, writes the rest and renames), then tells every rank whether that worked.
// Any failure on any rank throws on every rank, and nothing is committed: `latest` still names
// the previous checkpoint.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "trainer/checkpoint/checkpoint_manager.h"

namespace dpo {

class Communicator;

// Writes this rank's optimizer files into the given directory and returns their names.
using WriteOptimizerFiles = std::function<std::vector<std::string>(const std::string& dir)>;
// Rank 0's commit of the checkpoint with the staged files of every rank, in rank order; returns
// the checkpoint directory.
using CommitCheckpoint = std::function<std::string(const std::vector<CheckpointManager::StagedFile>& files)>;

// Collective. Returns the committed checkpoint directory on every rank. Throws Error(kInternal)
// on every rank naming the rank and the problem when any step fails on any rank.
std::string SaveOnEveryRank(Communicator& communicator, const std::string& output_dir, int64_t step,
                            const WriteOptimizerFiles& write, const CommitCheckpoint& commit);

}  // namespace dpo
