// metrics.jsonl writer and progress line.
#include "trainer/loop/metrics_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
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
  good_bytes_ = kept.size();
}

void MetricsLog::Write(const nlohmann::json& record) {
  held_.push_back(record.dump());
  if (held_.size() > kMaxHeldRecords) {
    held_.erase(held_.begin());
    ++dropped_records_;
  }
  Flush();
}

bool MetricsLog::Flush() {
  if (held_.empty()) return true;
  std::error_code error;
  // A write that failed part-way may have left a cut line: back to the last complete record.
  if (std::filesystem::is_regular_file(path_, error) && std::filesystem::file_size(path_, error) > good_bytes_) {
    std::filesystem::resize_file(path_, good_bytes_, error);
  }
  std::string text;
  for (const std::string& line : held_) text += line + "\n";
  errno = 0;
  {
    std::ofstream out(path_, std::ios::app);
    if (out && (out << text) && out.flush()) {
      out.close();
      if (out) {
        good_bytes_ += text.size();
        held_.clear();
        return true;
      }
    }
  }
  ++failed_writes_;
  std::cerr << "warning: cannot write " << path_ << " (" << (errno != 0 ? std::strerror(errno) : "write failed")
            << "): " << held_.size() << " record(s) held, retried at the next logged step; training goes on\n";
  return false;
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
