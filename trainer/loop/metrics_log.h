// metrics.jsonl (one JSON object per logged step, TRL's keys) and the terminal progress line.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "job/job_config.h"

namespace dpo {

class MetricsLog {
 public:
  // Opens `path` for appending. `resumed_step` >= 0 keeps only the records with step <=
  // resumed_step (a resumed run rewrites what the interrupted run logged after its checkpoint,
  // so the file reads as one uninterrupted run); -1 starts a new file.
  MetricsLog(const std::string& path, int64_t resumed_step);
  // Appends one record and flushes it to the OS.
  void Write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

// Prints a one-line progress report with an ETA to stderr, overwriting itself on a terminal.
class ProgressLine {
 public:
  // kAuto: only when stderr is a terminal.
  explicit ProgressLine(ProgressMode mode);
  void Update(int64_t step, int64_t total_steps, double loss, double accuracy, double margin, double pairs_per_second,
              double seconds_left);
  void Finish();

 private:
  bool enabled_;
  bool terminal_;
  bool dirty_ = false;
};

}  // namespace dpo
