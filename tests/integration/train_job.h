// A small, fast dpo-train job for integration tests: a generated preference file and a job
// YAML in a temporary directory, plus readers for what the run writes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace dpo::testing {

class TrainJob {
 public:
  // Writes `pairs` synthetic preference rows and job.yaml (a tiny GPT-2, sigmoid DPO, 8 pairs a
  // step, the default 3 epochs) with `training_extra` / `output_extra` appended to those
  // sections (e.g. "  max_steps: 6\n"). `model_init` other than "random" starts from that model
  // directory (then sequences are capped at 64 tokens, the tiny test model's n_positions).
  explicit TrainJob(int pairs = 48, const std::string& training_extra = "", const std::string& output_extra = "",
                    const std::string& model_init = "random");

  const std::string& dir() const { return dir_.path(); }
  std::string config_path() const { return dir_.File("job.yaml"); }
  std::string output_dir() const { return dir_.File("output"); }

  // dpo-train --config job.yaml plus `args`, with single-threaded BLAS.
  std::vector<std::string> Command(const std::vector<std::string>& args = {}) const;

  std::vector<nlohmann::json> Metrics() const;  // metrics.jsonl records
  // The raw bytes of final/model.safetensors (bit-exact comparisons).
  std::string FinalWeights() const;

 private:
  TempDir dir_;
};

// The line dpo-train's rank 0 prints after training: the highest tensor-memory peak of a step as
// measured by the counting allocator, and the memory model's total for the job. -1 when absent.
struct StepMemory {
  int64_t measured = -1;
  int64_t modelled = -1;
};
StepMemory ParseStepMemory(const std::string& output);

// Environment for child processes: one BLAS/OpenMP thread each.
const std::vector<std::string>& SingleThreadEnv();

// Command lines of running processes (other than this one) that mention `text`, such as a
// job's directory, as "pid: cmdline". Zombies have an empty command line and never match.
std::vector<std::string> ProcessesMentioning(const std::string& text);

}  // namespace dpo::testing
