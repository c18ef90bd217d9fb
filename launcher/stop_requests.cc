// Async-signal-safe counting of stop signals.
#include "launcher/stop_requests.h"

#include <csignal>

namespace dpo {
namespace {

volatile std::sig_atomic_t g_count = 0;
volatile std::sig_atomic_t g_last = 0;

void OnStopSignal(int signal_number) {
  g_last = signal_number;
  g_count = g_count + 1;
}

}  // namespace

void InstallStopRequestHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int StopRequestCount() { return g_count; }
int LastStopSignal() { return g_last; }

}  // namespace dpo
