// Runs mpirun and turns stop requests to dpo-launch into a staged shutdown of the job:
// first request -> SIGUSR1 to mpirun (OpenMPI 4 forwards it to every rank; dpo-train stops at
// the next step boundary, rank 0 writes a checkpoint, exit 0); after the grace period or on a
// second request -> SIGTERM to mpirun (it kills the ranks); after `term_seconds` more or on a
// third request -> SIGKILL to mpirun and every process under it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace dpo {

struct SupervisionOptions {
  double grace_seconds = 60;  // SIGUSR1 -> SIGTERM
  double term_seconds = 15;   // SIGTERM -> SIGKILL
};

struct JobOutcome {
  int exit_code = 1;    // mpirun's exit code, or 128 + signal when it was killed
  int stop_signal = 0;  // the first stop signal dpo-launch received, 0 when none
};

// Starts `mpirun_argv` and supervises it until it exits; escalation steps are reported on `log`.
// Stop requests are read through StopRequestCount() (install the handlers first). Throws
// Error(kInternal) when mpirun cannot be started.
JobOutcome SuperviseMpirun(const std::vector<std::string>& mpirun_argv, const SupervisionOptions& options,
                           std::ostream& log);

}  // namespace dpo
