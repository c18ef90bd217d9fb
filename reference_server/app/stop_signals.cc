// sigwait-based stop signals: no handler runs on an arbitrary thread.
#include "reference_server/app/stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <string>

#include "core/common/error.h"

namespace dpo {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockStopSignals() {
  const sigset_t set = StopSignals();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) throw Error(ErrorKind::kInternal, std::string("pthread_sigmask: ") + std::strerror(rc));
}

int WaitForStopSignal() {
  const sigset_t set = StopSignals();
  int signal_number = 0;
  const int rc = sigwait(&set, &signal_number);
  if (rc != 0) throw Error(ErrorKind::kInternal, std::string("sigwait: ") + std::strerror(rc));
  return signal_number;
}

}  // namespace dpo
