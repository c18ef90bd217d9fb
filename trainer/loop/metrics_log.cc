// metrics.jsonl writer and progress line.
#include "trainer/loop/metrics_log.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {

MetricsLog::MetricsLog(const std::string& path, int64_t resumed_step) : path_(path) {
  std::string kept;
  if (resumed_step >= 0 && std::filesystem::exists(path)) {
    std::istringstream lines(ReadFile(path));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      try {
        const auto record = nlohmann::json::parse(line);
        if (record.value("step", int64_t{0}) <= resumed_step) kept += line + "\n";
      } catch (const nlohmann::json::exception&) {
        break;  // a line cut by a crash ends what the interrupted run managed to write
      }
    }
  }
  WriteFileAtomically(path, kept);
  out_.open(path, std::ios::app);
  if (!out_) throw Error(ErrorKind::kInternal, "cannot open " + path + " for appending");
}

void MetricsLog::Write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
  if (!out_) throw Error(ErrorKind::kInternal, "cannot write to " + path_);
}

ProgressLine::ProgressLine(ProgressMode mode) : terminal_(::isatty(STDERR_FILENO) != 0) {
  enabled_ = mode == ProgressMode::kAlways || (mode == ProgressMode::kAuto && terminal_);
}

void ProgressLine::Update(int64_t step, int64_t total_steps, double loss, double accuracy, double margin,
                          double pairs_per_second, double seconds_left) {
  if (!enabled_) return;
  const int64_t eta = static_cast<int64_t>(seconds_left + 0.5);
  std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f  acc %.3f  margin %+.4f  %.1f pairs/s  ETA %lldm%02llds%s",
               terminal_ ? "\r\033[K" : "", static_cast<long long>(step), static_cast<long long>(total_steps), loss,
               accuracy, margin, pairs_per_second, static_cast<long long>(eta / 60), static_cast<long long>(eta % 60),
               terminal_ ? "" : "\n");
  std::fflush(stderr);
  dirty_ = terminal_;
}

void ProgressLine::Finish() {
  if (dirty_) std::fputc('\n', stderr);
  dirty_ = false;
}

}  // namespace dpo
