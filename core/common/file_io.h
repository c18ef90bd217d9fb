// Whole-file reads and crash-safe writes. Every file the project persists (weights, configs,
// checkpoints, caches' side files) goes through WriteFileAtomically so a reader never sees a
// partly written file: temp file in the same directory, fsync, rename, fsync of the directory.
#pragma once

#include <string>
#include <string_view>

namespace dpo {

// Reads the whole file; throws Error(kInvalidInput) naming the path when it cannot be read.
std::string ReadFile(const std::string& path);

// Replaces `path` with `contents` atomically and durably. Throws Error(kInternal) on I/O failure
// (disk full, permissions), naming the path and the system error; the old file is untouched then.
void WriteFileAtomically(const std::string& path, std::string_view contents);

// fsyncs a directory so that a rename inside it survives a power cut.
void SyncDirectory(const std::string& directory);

}  // namespace dpo
