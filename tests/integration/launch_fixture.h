// Helpers of the dpo-launch end-to-end tests: a small job over a tiny model directory (so the
// launcher can start a reference server for it), and a check that nothing of a job still runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/train_job.h"

namespace dpo::testing {

class LaunchJob {
 public:
  // A TrainJob (`pairs` rows, `training_extra` appended to its training section) whose model is
  // a tiny GPT-2 saved in a directory of its own.
  LaunchJob(int pairs, const std::string& training_extra);
  const TrainJob& job() const { return *job_; }
  // dpo-launch --config job.yaml plus `args`.
  std::vector<std::string> Command(const std::vector<std::string>& args) const;

 private:
  TempDir model_dir_;
  std::unique_ptr<TrainJob> job_;
};

// Waits until metrics.jsonl holds `records` lines; false after `timeout_seconds`.
bool WaitForMetricsRecords(const TrainJob& job, size_t records, double timeout_seconds);

}  // namespace dpo::testing
