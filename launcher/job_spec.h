// What dpo-launch needs to know about a job, read with dpo-train's own loader so that a job
// the launcher accepts is one every rank accepts.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct JobSpec {
  std::string config_path;             // absolute path of the job file
  std::vector<std::string> overrides;  // the user's `section.key=value` assignments, in order
  std::string reference_mode = "local";  // local or server
  std::string reference_address;         // server: empty means dpo-launch starts one
  std::string reference_model;           // resolved reference.model; empty when not set
  std::string reference_fingerprint;     // reference.fingerprint; empty: the started server's is used
  std::string model_init = "random";     // resolved model.init ("random" or a directory)
  std::string output_dir;                // resolved output.dir
  bool reference_client_security = false;  // reference.tls_* or auth_token_file set
};

// Loads and validates the job (JobConfig::Load) with `overrides`. A job with
// reference.mode=server and no reference.address is the launcher's to complete: it is checked
// as the ranks will see it (with the started server's address and, unless the job names one, its
// fingerprint; reference.model cleared), and
// reference.model may then name the model that server loads. Throws Error(kInvalidInput)
// listing every problem.
JobSpec LoadJobSpec(const std::string& config_path, const std::vector<std::string>& overrides);

}  // namespace dpo
