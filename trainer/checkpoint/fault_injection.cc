// The DPO_FAULT_INJECT hook: an exact string comparison, then SIGKILL.
#include "trainer/checkpoint/fault_injection.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace dpo {

void MaybeInjectFault(std::string_view point, int64_t step) {
  const char* request = std::getenv(kFaultInjectEnv);
  if (request == nullptr) return;
  const std::string wanted = std::string(point) + ":" + std::to_string(step);
  if (wanted == request) std::raise(SIGKILL);
}

}  // namespace dpo
