// LaunchJob and process checks for the dpo-launch tests.
#include "tests/integration/launch_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/common/file_io.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {

LaunchJob::LaunchJob(int pairs, const std::string& training_extra) {
  WriteTinyModel(model_dir_.path(), 17);
  job_ = std::make_unique<TrainJob>(pairs, training_extra, "", model_dir_.path());
}

std::vector<std::string> LaunchJob::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> command = {BinaryPath("dpo-launch"), "--config", job_->config_path()};
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

bool WaitForMetricsRecords(const TrainJob& job, size_t records, double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  const std::string path = job.output_dir() + "/metrics.jsonl";
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(path)) {
      const std::string text = ReadFile(path);
      if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= records) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace dpo::testing
