// The DPO_FAULT_INJECT hook: an exact string comparison, then the requested failure.
#include "trainer/checkpoint/fault_injection.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/common/error.h"

namespace dpo {

#ifndef DPO_TEST_HOOKS
void MaybeInjectFault(std::string_view, int64_t) {}  // built without DPO_WITH_TEST_HOOKS: nothing is read
#else
namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

void MaybeInjectFault(std::string_view point, int64_t step) {
  const char* request = std::getenv(kFaultInjectEnv);
  if (request == nullptr) return;
  const std::string wanted = std::string(point) + ":" + std::to_string(step);
  if (wanted != request) return;
  if (EndsWith(point, ".throw")) throw Error(ErrorKind::kInternal, "injected fault at " + wanted);
  if (EndsWith(point, ".unavailable")) throw Error(ErrorKind::kReferenceUnavailable, "injected fault at " + wanted);
  if (EndsWith(point, ".hang")) {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  std::raise(SIGKILL);
}
#endif

}  // namespace dpo
