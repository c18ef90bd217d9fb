// SIGTERM / SIGINT for the serving process: blocked in every thread (so gRPC's and LibTorch's
// threads never take them) and received synchronously by the one thread that waits for them.
#pragma once

namespace dpo {

// Blocks SIGTERM and SIGINT in the calling thread; threads created afterwards inherit the mask.
// Call first in main, before anything starts a thread. Throws Error(kInternal) on failure.
void BlockStopSignals();

// Waits until SIGTERM or SIGINT arrives (one pending before the call returns at once) and
// returns its number. Requires BlockStopSignals() first.
int WaitForStopSignal();

}  // namespace dpo
