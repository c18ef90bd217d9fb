// SIGINT/SIGTERM to dpo-launch as counted requests: the handler only counts, and the waiting
// loops decide what each one means (first: graceful stop; later: escalate).
#pragma once

namespace dpo {

// Installs the counting handler for SIGINT and SIGTERM (idempotent).
void InstallStopRequestHandlers();
// How many stop signals have arrived, and the number of the latest (0 when none).
int StopRequestCount();
int LastStopSignal();

}  // namespace dpo
