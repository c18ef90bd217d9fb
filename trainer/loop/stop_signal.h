// SIGINT/SIGTERM as a request to stop at the next step boundary (after a checkpoint), rather
// than dying mid-step. A second signal ends the process at once.
#pragma once

namespace dpo {

// Installs the handlers (idempotent).
void InstallStopSignalHandlers();
// The signal number that asked to stop, or 0.
int StopRequested();

}  // namespace dpo
