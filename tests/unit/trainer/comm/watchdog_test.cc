// Watchdog: an overdue operation ends the process with exit 4 and a message naming it; one that
// finishes in time, or a disabled watchdog, does nothing.
#include "trainer/comm/watchdog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace dpo {
namespace {

using std::chrono::milliseconds;

TEST(WatchdogDeathTest, AnOverdueOperationEndsTheProcessWithExitCode4) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog watchdog(0.2, "dpo-train rank 1", "distributed.timeout_seconds");
        watchdog.SetStep(7);
        const auto scope = watchdog.Watch("all-reduce of 3 tensors (1.2 MB)");
        std::this_thread::sleep_for(std::chrono::seconds(10));
      },
      ::testing::ExitedWithCode(4),
      "dpo-train rank 1: timeout: all-reduce of 3 tensors \\(1.2 MB\\) at step 7 did not finish within "
      "distributed.timeout_seconds=0.2 s");
}

TEST(WatchdogTest, OperationsThatFinishInTimeAreNotReported) {
  Watchdog watchdog(0.3, "test", "timeout");
  for (int i = 0; i < 5; ++i) {
    const auto scope = watchdog.Watch("short operation");
    std::this_thread::sleep_for(milliseconds(100));
  }
  // Each operation is timed on its own: five 100 ms operations exceed 0.3 s together.
  std::this_thread::sleep_for(milliseconds(500));  // disarmed: idle time is not watched
  SUCCEED();
}

TEST(WatchdogTest, ZeroTimeoutDisablesIt) {
  Watchdog watchdog(0, "test", "timeout");
  const auto scope = watchdog.Watch("anything");
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(watchdog.timeout_seconds(), 0);
}

}  // namespace
}  // namespace dpo
