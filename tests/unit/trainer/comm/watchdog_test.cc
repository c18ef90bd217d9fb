// Watchdog: an overdue operation ends the process with exit 4 and a message naming it; one that
// finishes in time, or a disabled watchdog, does nothing.
#include "trainer/comm/watchdog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
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

// The cases where the watchdog must stay quiet run in a child process (a death test expecting a
// clean exit): if it fired, only the child would die, with code 4, and the test would say so.
TEST(WatchdogDeathTest, OperationsThatFinishInTimeAreNotReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog watchdog(1.0, "test", "timeout");
        // Each operation is timed on its own: together the five exceed the timeout.
        for (int i = 0; i < 5; ++i) {
          const auto scope = watchdog.Watch("short operation");
          std::this_thread::sleep_for(milliseconds(250));
        }
        std::this_thread::sleep_for(milliseconds(1500));  // disarmed: idle time is not watched
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(WatchdogDeathTest, ZeroTimeoutDisablesIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog watchdog(0, "test", "timeout");
        const auto scope = watchdog.Watch("anything");
        std::this_thread::sleep_for(milliseconds(300));
        std::exit(watchdog.timeout_seconds() == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace dpo
