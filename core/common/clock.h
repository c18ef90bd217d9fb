// The one clock for durations and deadlines (monotonic, unaffected by changes of the wall time).
#pragma once

#include <chrono>

namespace dpo {

using Clock = std::chrono::steady_clock;

// Seconds from `since` to now.
inline double SecondsSince(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace dpo
