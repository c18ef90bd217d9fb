// Child processes of dpo-launch. Each runs in its own process group, so a terminal's Ctrl-C
// reaches only the launcher, which decides how to stop them; each gets SIGTERM if the launcher
// dies (PR_SET_PDEATHSIG); stdin is /dev/null. Not thread-safe: one thread owns a ChildProcess.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace dpo {

struct ChildOptions {
  std::vector<std::string> argv;       // argv[0]: a path, or a name looked up in PATH
  std::vector<std::string> extra_env;  // NAME=value, replacing inherited values
  bool capture_stdout = false;         // stdout to a pipe read with ReadLine; else inherited
};

class ChildProcess {
 public:
  // Starts the process. Throws Error(kInternal) naming argv[0] when it cannot be started
  // (not found, not executable: the exec error is reported back before this returns).
  explicit ChildProcess(const ChildOptions& options);
  // Kills the process and everything it started, and reaps it, unless it was already reaped.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // The exit code once reaped: the exit status, or 128 + signal number when killed by one.
  std::optional<int> exit_code() const { return exit_code_; }

  // Sends `signal_number` to the process itself (not its group).
  void Signal(int signal_number);
  // Waits up to `timeout_seconds` (0: just polls) for the process to end, then reaps it: its
  // exit code, or nullopt while it runs. Whatever is left in its process group is killed first.
  std::optional<int> Wait(double timeout_seconds);
  // SIGKILLs the process and all its descendants (from /proc, so a grandchild in another
  // process group is found too), then reaps it.
  int KillTree();

  enum class ReadStatus { kLine, kTimeout, kEnd };
  // One line of captured stdout (without the newline), waiting up to `timeout_seconds`.
  ReadStatus ReadLine(double timeout_seconds, std::string* line);

 private:
  std::optional<int> Reap(bool block);

  std::string name_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;
  std::optional<int> exit_code_;
};

// Makes this process the reaper of orphaned descendants (PR_SET_CHILD_SUBREAPER): ranks that
// outlive their mpirun become its children instead of init's, so they can still be stopped.
void BecomeChildSubreaper();
// Reaps every child of this process whose pid is not in `keep` (orphans adopted as subreaper),
// SIGKILLing those still running; returns how many were running.
int KillAdoptedOrphans(const std::vector<pid_t>& keep);

}  // namespace dpo
