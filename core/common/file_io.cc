// POSIX implementation of whole-file reads and atomic writes.
#include "core/common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/common/error.h"

namespace dpo {
namespace {

std::string SystemError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

std::string ReadFile(const std::string& path) {
  // An ifstream opens a directory and then reads nothing without setting badbit.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    errno = EISDIR;
    throw InvalidInput(SystemError("cannot read", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(SystemError("cannot open", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw InvalidInput(SystemError("cannot read", path));
  return contents.str();
}

void SyncDirectory(const std::string& directory) {
  const int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw Error(ErrorKind::kInternal, SystemError("cannot open directory", directory));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(ErrorKind::kInternal, SystemError("cannot fsync directory", directory));
}

void WriteFileAtomically(const std::string& path, std::string_view contents) {
  const std::filesystem::path target(path);
  const std::string directory = target.parent_path().string();
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) throw Error(ErrorKind::kInternal, SystemError("cannot create temporary file for", path));
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      const std::string message = SystemError("cannot write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      throw Error(ErrorKind::kInternal, message);
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    const std::string message = SystemError("cannot fsync", temp);
    ::close(fd);
    ::unlink(temp.c_str());
    throw Error(ErrorKind::kInternal, message);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string message = SystemError("cannot rename " + temp + " to", path);
    ::unlink(temp.c_str());
    throw Error(ErrorKind::kInternal, message);
  }
  SyncDirectory(directory);
}

}  // namespace dpo
