// One dpo-launch run: job -> plan -> (reference server) -> supervised mpirun -> summary.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace dpo {

struct LaunchOptions {
  std::string config_path;
  int nproc = 1;
  int threads_per_rank = 0;              // 0: this host's cores / ranks per host
  std::string hostfile;                  // empty: every rank on this host
  bool dry_run = false;                  // print the plan, start nothing
  std::vector<std::string> overrides;    // --set section.key=value, forwarded to every rank
  std::vector<std::string> mpirun_args;  // after `--`
  double grace_seconds = 60;             // first stop signal -> SIGTERM to mpirun
  double reference_timeout_seconds = 120;  // server start until SERVING
};

// Returns the job's exit code (mpirun's; 128 + signal when stopped before mpirun started).
// The plan (dry run) goes to `out`; progress and the one-line summary to `log`. Throws
// dpo::Error: kInvalidInput for a bad job or command line, kReferenceUnavailable when the
// reference server does not come up, kInternal when a program cannot be started.
int RunLaunch(const LaunchOptions& options, std::ostream& out, std::ostream& log);

}  // namespace dpo
