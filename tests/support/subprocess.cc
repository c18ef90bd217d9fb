// fork/exec helpers for tests.
#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dpo::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, const std::string& log_path) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group: a kill reaches its children too
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    for (const auto& assignment : extra_env) ::putenv(const_cast<char*>(assignment.c_str()));
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                         double timeout_seconds) {
  char log_template[] = "/tmp/dpo-test-output-XXXXXX";
  const int fd = ::mkstemp(log_template);
  if (fd >= 0) ::close(fd);
  ProcessResult result;
  {
    BackgroundProcess process(argv, extra_env, log_template);
    result.exit_code = process.Wait(timeout_seconds);
    if (result.exit_code == -1) {
      process.Signal(SIGKILL);
      result.exit_code = process.Wait(10);
    }
  }
  result.output = ReadAll(log_template);
  ::unlink(log_template);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                                     const std::string& log_path)
    : pid_(Spawn(argv, extra_env, log_path)) {}

BackgroundProcess::~BackgroundProcess() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void BackgroundProcess::Signal(int signal_number) {
  if (!reaped_) ::kill(pid_, signal_number);
}

int BackgroundProcess::Wait(double timeout_seconds) {
  if (reaped_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      exit_code_ = DecodeStatus(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

std::string FromEnvironment(const char* variable, const char* fallback) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

std::string BinaryPath(const std::string& name) { return FromEnvironment("DPO_TEST_BINARY_DIR", DPO_BINARY_DIR) + "/" + name; }

std::string FixturePath(const std::string& relative) {
  return FromEnvironment("DPO_TEST_FIXTURES_DIR", DPO_FIXTURES_DIR) + "/" + relative;
}

}  // namespace dpo::testing
