// metrics.jsonl (one JSON object per logged step, TRL's keys) and the terminal progress line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "job/job_config.h"

namespace dpo {

class MetricsLog {
 public:
  // Opens `path` for appending. `resumed_step` >= 0 keeps only the records with step <=
  // resumed_step (a resumed run rewrites what the interrupted run logged after its checkpoint,
  // so the file reads as one uninterrupted run); -1 starts a new file.
  MetricsLog(const std::string& path, int64_t resumed_step);
  // Appends one record (opening the file, writing, flushing, closing). A failed write (disk full,
  // the file gone) never stops training: the record is held and written, in order, with the next
  // one; a cut line is first cut off the file; each failure is counted and reported on stderr.
  // At most kMaxHeldRecords are held, the oldest then dropped (counted).
  void Write(const nlohmann::json& record);
  // Writes the held records, if any; true when none is left.
  bool Flush();

  static constexpr size_t kMaxHeldRecords = 10000;
  int64_t failed_writes() const { return failed_writes_; }
  int64_t held_records() const { return static_cast<int64_t>(held_.size()); }
  int64_t dropped_records() const { return dropped_records_; }

 private:
  std::string path_;
  uintmax_t good_bytes_ = 0;        // the file's size after the last complete write
  std::vector<std::string> held_;   // records not yet written, oldest first
  int64_t failed_writes_ = 0;
  int64_t dropped_records_ = 0;
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
