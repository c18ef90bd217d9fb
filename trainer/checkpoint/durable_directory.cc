// POSIX implementation of the durable directory operations (fsync, renameat2, mkdtemp).
#include "trainer/checkpoint/durable_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

Error SystemError(const std::string& what) {
  return Error(ErrorKind::kInternal, what + ": " + std::strerror(errno));
}

std::string ParentOf(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

void FsyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SystemError("cannot open " + path + " to fsync it");
  if (::fsync(fd) != 0) {
    const Error error = SystemError("cannot fsync " + path);
    ::close(fd);
    throw error;
  }
  ::close(fd);
}

void RemoveTree(const std::string& directory) {
  std::error_code error;
  fs::remove_all(directory, error);
  if (error) throw Error(ErrorKind::kInternal, "cannot remove " + directory + ": " + error.message());
}

}  // namespace

std::string MakeTempDirectory(const std::string& parent, const std::string& prefix) {
  std::string pattern = (fs::path(parent) / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw SystemError("cannot create a temporary directory in " + parent);
  return pattern;
}

void SyncDirectoryContents(const std::string& directory) {
  std::error_code error;
  for (fs::directory_iterator it(directory, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    std::error_code ignored;
    if (it->is_regular_file(ignored)) FsyncFile(it->path().string());
  }
  if (error) throw Error(ErrorKind::kInternal, "cannot list " + directory + ": " + error.message());
  SyncDirectory(directory);
}

void ReplaceDirectory(const std::string& source, const std::string& target, const std::string& temp_prefix) {
  const std::string parent = ParentOf(target);
  if (::rename(source.c_str(), target.c_str()) == 0) {
    SyncDirectory(parent);
    return;
  }
  // rename() replaces only an empty directory; a complete old checkpoint gives ENOTEMPTY/EEXIST.
  if (errno != ENOTEMPTY && errno != EEXIST) throw SystemError("cannot rename " + source + " to " + target);
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, source.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    SyncDirectory(parent);
    RemoveTree(source);  // now holds the old contents
    return;
  }
  if (errno != EINVAL && errno != ENOSYS) {
    throw SystemError("cannot exchange " + source + " with " + target);
  }
#endif
  // No atomic exchange here: move the old one aside (a crash now loses only that old copy,
  // which the new one was about to replace), then move the new one in.
  const std::string retired = MakeTempDirectory(parent, temp_prefix);
  if (::rename(target.c_str(), retired.c_str()) != 0) throw SystemError("cannot rename " + target + " to " + retired);
  if (::rename(source.c_str(), target.c_str()) != 0) throw SystemError("cannot rename " + source + " to " + target);
  SyncDirectory(parent);
  RemoveTree(retired);
}

void RemoveDirectoryAtomically(const std::string& directory, const std::string& temp_prefix) {
  const std::string parent = ParentOf(directory);
  // rename() onto an empty directory replaces it, so mkdtemp reserves a unique name.
  const std::string retired = MakeTempDirectory(parent, temp_prefix);
  if (::rename(directory.c_str(), retired.c_str()) != 0) {
    const Error error = SystemError("cannot rename " + directory + " to " + retired);
    ::rmdir(retired.c_str());
    throw error;
  }
  SyncDirectory(parent);
  RemoveTree(retired);
}

}  // namespace dpo
