// dpo-reference-server's command line and YAML config: one table of keys feeds both, so that
// `--max-batch-tokens 4096` and `max_batch_tokens: 4096` in `--config server.yaml` always mean
// the same thing. Flags given on the command line override the file.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "reference_server/server/server_options.h"

namespace dpo {

// `dpo-reference-server precompute`: fill the cache from a training job's data sets.
struct PrecomputeOptions {
  ServerOptions server;                // model_dir, cache_*, max_batch_tokens, threads, ...
  std::string job_config;              // the dpo-train job file whose data is scored
  std::vector<std::string> overrides;  // --set section.key=value, as dpo-train takes them
};

struct CommandLine {
  enum class Mode { kServe, kPrecompute, kExit };
  Mode mode = Mode::kServe;
  int exit_code = 0;  // kExit only: 0 after --help, 2 after a usage or config error (printed)
  ServerOptions server;
  PrecomputeOptions precompute;
};

// Parses argv. Help goes to `out`; usage and config errors go to `err` as "dpo-reference-server:
// <problem>" lines (every problem of a config file at once) and yield kExit with exit code 2.
// The serve options are not Validate()d here (the server does that when it starts).
CommandLine ParseCommandLine(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// Applies the keys of a YAML mapping (e.g. `listen: 0.0.0.0:50051`) to `*options`; relative paths
// (model, cache_dir, tls_*, auth_token_file) resolve against the file's directory. Throws
// Error(kInvalidInput) listing every problem: unreadable file, not a mapping, unknown key, or a
// value of the wrong type, each as "<path>: <key>: <problem>".
void ApplyServerConfigFile(const std::string& path, ServerOptions* options);
// The same from YAML text; `origin` names it in messages, paths resolve against `base_dir`.
void ApplyServerConfigText(const std::string& yaml_text, const std::string& origin, const std::string& base_dir,
                           ServerOptions* options);

}  // namespace dpo
