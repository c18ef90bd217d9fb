// Directory operations that survive a crash or power cut at any instant: fsync of files and
// directories, unique temporary siblings, atomic replacement and removal of directories.
// Used by the checkpoint writer; POSIX (Linux) only.
#pragma once

#include <string>

namespace dpo {

// Creates a fresh directory `<parent>/<prefix><random>` (mkdtemp) and returns its path.
// Throws Error(kInternal) naming the parent and the system error.
std::string MakeTempDirectory(const std::string& parent, const std::string& prefix);

// fsyncs every regular file directly in `directory`, then the directory itself. Throws
// Error(kInternal) naming the file and the system error.
void SyncDirectoryContents(const std::string& directory);

// Moves directory `source` to `target` within one parent directory, then fsyncs the parent.
// When `target` already exists it is replaced so that `target` is complete at every instant
// (renameat2 RENAME_EXCHANGE, then the old contents are removed); on filesystems without it,
// the old target is first renamed to a `temp_prefix` sibling, then deleted. Throws
// Error(kInternal) naming both paths and the system error.
void ReplaceDirectory(const std::string& source, const std::string& target, const std::string& temp_prefix);

// Deletes `directory` so that a crash never leaves it half-deleted under its own name: it is
// first renamed to a `<parent>/<temp_prefix><random>` sibling, then removed. Throws
// Error(kInternal) naming the directory and the system error.
void RemoveDirectoryAtomically(const std::string& directory, const std::string& temp_prefix);

}  // namespace dpo
