// Starting the project's binaries from tests: run to completion with captured output, or start
// in the background to signal and reap. POSIX only.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace dpo::testing {

struct ProcessResult {
  int exit_code = -1;   // the exit status, or 128 + signal number when killed
  std::string output;   // stdout and stderr, interleaved
};

// Runs `argv` (argv[0] is a path) with `extra_env` ("NAME=value") added to the environment;
// kills it after `timeout_seconds` (the result then says so in exit_code = 128 + SIGKILL).
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
                         double timeout_seconds = 300);

class BackgroundProcess {
 public:
  // Output goes to `log_path`.
  BackgroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    const std::string& log_path);
  ~BackgroundProcess();  // kills and reaps the process if still running
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal_number);
  // Waits up to `timeout_seconds`; returns the exit code (128 + signal when killed by one), or
  // -1 on timeout.
  int Wait(double timeout_seconds);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// Where this build's programs and the test fixtures are: the paths of the build, unless the
// environment names others (DPO_TEST_BINARY_DIR, DPO_TEST_FIXTURES_DIR), as it does for a build
// carried to another machine (bench/gpu/device_check.sh).
std::string BinaryPath(const std::string& name);
std::string FixturePath(const std::string& relative);

}  // namespace dpo::testing
