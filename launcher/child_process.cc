// fork/exec with process groups, parent-death signals, reaping with timeouts, tree kills.
#include "launcher/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/common/error.h"

extern char** environ;

namespace dpo {
namespace {

std::string SystemError(const std::string& what, int error_number) {
  return what + ": " + std::strerror(error_number);
}

// argv[0] as an executable path: as given when it holds a '/', else the first match in PATH.
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= directories.size()) {
    const size_t end = std::min(directories.find(':', begin), directories.size());
    const std::string directory = directories.substr(begin, end - begin);
    const std::string candidate = (directory.empty() ? "." : directory) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  throw Error(ErrorKind::kInternal, "cannot run " + program + ": not found in PATH");
}

// The environment with `extra` ("NAME=value") replacing or adding entries.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) merged.emplace_back(*entry);
  for (const std::string& assignment : extra) {
    const std::string name = assignment.substr(0, assignment.find('=') + 1);
    merged.erase(std::remove_if(merged.begin(), merged.end(),
                                [&](const std::string& entry) { return entry.rfind(name, 0) == 0; }),
                 merged.end());
    merged.push_back(assignment);
  }
  return merged;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// After fork, before exec: async-signal-safe calls only (the parent may have threads).
[[noreturn]] void ExecChild(pid_t parent, int report_fd, int stdout_fd, const char* path, char* const* argv,
                            char* const* envp) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl took effect
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (const int signal_number : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD}) {
    ::signal(signal_number, SIG_DFL);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (stdout_fd >= 0) ::dup2(stdout_fd, STDOUT_FILENO);
  ::execve(path, argv, envp);
  const int error_number = errno;
  (void)!::write(report_fd, &error_number, sizeof(error_number));
  ::_exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Direct children of `pid`, over all its threads.
std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code error;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child = 0; in >> child;) children.push_back(child);
  }
  return children;
}

// A zombie has ended already: it only needs reaping.
bool IsZombie(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t name_end = stat.rfind(')');  // the command name may hold spaces and parentheses
  return name_end != std::string::npos && name_end + 2 < stat.size() && stat[name_end + 2] == 'Z';
}

std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> found = Children(pid);
  for (size_t i = 0; i < found.size(); ++i) {
    for (const pid_t grandchild : Children(found[i])) found.push_back(grandchild);
  }
  return found;
}

}  // namespace

ChildProcess::ChildProcess(const ChildOptions& options) : name_(options.argv.at(0)) {
  std::string path = ResolveProgram(options.argv.at(0));
  std::vector<std::string> argv = options.argv;
  std::vector<std::string> env = MergedEnvironment(options.extra_env);
  std::vector<char*> argv_pointers = Pointers(argv);
  std::vector<char*> env_pointers = Pointers(env);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw Error(ErrorKind::kInternal, SystemError("pipe", errno));
  int output[2] = {-1, -1};
  if (options.capture_stdout && ::pipe2(output, O_CLOEXEC) != 0) {
    const int error_number = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw Error(ErrorKind::kInternal, SystemError("pipe", error_number));
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) ExecChild(parent, report[1], output[1], path.c_str(), argv_pointers.data(), env_pointers.data());
  const int fork_error = errno;
  ::close(report[1]);
  if (output[1] >= 0) ::close(output[1]);
  stdout_fd_ = output[0];
  if (pid_ < 0) {
    ::close(report[0]);
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
    throw Error(ErrorKind::kInternal, SystemError("fork for " + name_, fork_error));
  }
  ::setpgid(pid_, pid_);  // also here, so the group exists before any signal is sent to it
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(report[0], &exec_error, sizeof(exec_error));
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got > 0) {
    Reap(true);
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
    throw Error(ErrorKind::kInternal, SystemError("cannot run " + path, exec_error));
  }
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) KillTree();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ChildProcess::Signal(int signal_number) {
  if (!exit_code_) ::kill(pid_, signal_number);
}

std::optional<int> ChildProcess::Reap(bool block) {
  if (exit_code_) return exit_code_;
  siginfo_t info{};
  // WNOWAIT: the zombie keeps the process group id reserved while its leftovers are killed.
  int rc = 0;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 || info.si_pid != pid_) return std::nullopt;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_code_ = DecodeStatus(status);
  return exit_code_;
}

std::optional<int> ChildProcess::Wait(double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (true) {
    if (const auto code = Reap(false)) return code;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int ChildProcess::KillTree() {
  if (exit_code_) return *exit_code_;
  ::kill(pid_, SIGSTOP);  // frozen, it starts nothing new while its tree is collected
  for (const pid_t descendant : Descendants(pid_)) ::kill(descendant, SIGKILL);
  ::kill(pid_, SIGKILL);
  return *Reap(true);
}

ChildProcess::ReadStatus ChildProcess::ReadLine(double timeout_seconds, std::string* line) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (true) {
    const size_t newline = stdout_buffer_.find('\n');
    if (newline != std::string::npos) {
      *line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return ReadStatus::kLine;
    }
    if (stdout_fd_ < 0) return ReadStatus::kEnd;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ReadStatus::kTimeout;
    pollfd poll_fd{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (ready <= 0) continue;  // timeout slice or EINTR: check the deadline again
    char chunk[4096];
    const ssize_t got = ::read(stdout_fd_, chunk, sizeof(chunk));
    if (got > 0) {
      stdout_buffer_.append(chunk, static_cast<size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      if (!stdout_buffer_.empty()) {
        *line = stdout_buffer_;
        stdout_buffer_.clear();
        return ReadStatus::kLine;
      }
      return ReadStatus::kEnd;
    }
  }
}

void BecomeChildSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

int KillAdoptedOrphans(const std::vector<pid_t>& keep) {
  int killed = 0;
  for (const pid_t child : Children(::getpid())) {
    if (std::find(keep.begin(), keep.end(), child) != keep.end()) continue;
    if (!IsZombie(child)) {
      ::kill(child, SIGKILL);
      ++killed;
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  return killed;
}

}  // namespace dpo
