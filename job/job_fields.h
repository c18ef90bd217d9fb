// The job file's keys, each declared once: section, key, the JobConfig member it fills, whether
// it is a path, whether it changes what training computes (the training hash), and what it means.
// Parsing, --set, --print-config, path resolution and JobConfig::TrainingHash all read this
// table. Defaults are not repeated here: they are those of a default-constructed JobConfig,
// written once in the option structs it embeds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace dpo {

struct JobConfig;

// A member of an enum type (or a string limited to fixed names) seen through its YAML names.
struct NamedChoice {
  std::function<std::string()> get;  // the member's name
  // Sets the member from `name`: "" when done, else the problem naming key, value and the
  // accepted names (e.g. `training.device="tpu" is not supported (supported: cpu, cuda)`).
  std::function<std::string(const std::string& name)> set;
};

// The member a key fills, by type. Lists are written inline ([sigmoid, sft]) and read from a
// scalar or a sequence.
using FieldRef = std::variant<std::string*, int64_t*, uint64_t*, double*, bool*, std::vector<std::string>*,
                              std::vector<double>*, NamedChoice>;

// The training hash is the SHA-256 of the job as YAML in which:
enum class TrainingHashRole {
  // the key has its value: another value is another training run (loss, data, optimizer, ...);
  kValue,
  // the key has its default value whatever the job says: where and how things run (output,
  // metrics, distributed, the device, gradient checkpointing, the split of the global batch
  // into micro-batches and ranks, how the reference is reached -- which model it is, is checked
  // by its fingerprint);
  kDefault,
  // the key is left out: like kDefault, for keys added after checkpoints recorded hashes, so
  // that adding one does not change the hash of a job that predates it.
  kLeftOut,
};

struct JobField {
  const char* section;  // e.g. "training"
  const char* key;      // e.g. "beta"
  // A relative value resolves against the job file's folder (from --set: against the working
  // directory); "", "random", "auto" and "never" stay as written.
  bool is_path;
  // What the key contributes to the training hash (JobConfig::TrainingHash), which a resumed
  // or restarted run must match.
  TrainingHashRole hash;
  const char* doc;  // one line, for --print-config
  FieldRef (*member)(JobConfig& config);
};

// Every key, section by section in JobSections() order: the order --print-config writes them
// in and the order the training hash reads them in.
const std::vector<JobField>& JobFields();
const std::vector<std::string>& JobSections();
// The field of `section`.`key`, or null.
const JobField* FindJobField(const std::string& section, const std::string& key);

}  // namespace dpo
