// Async-signal-safe stop flag.
#include "trainer/loop/stop_signal.h"

#include <csignal>

namespace dpo {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int signal_number) {
  if (g_stop_signal != 0) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_stop_signal = signal_number;
}

}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // mpirun forwards SIGUSR1 to every rank without ending the job: dpo-launch's graceful stop.
  sigaction(SIGUSR1, &action, nullptr);
}

int StopRequested() { return g_stop_signal; }

}  // namespace dpo
