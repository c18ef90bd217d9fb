// DriftMonitor: warns once when the chosen log-prob falls past the threshold below its start.
#include "trainer/loop/drift_monitor.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

std::map<std::string, double> Means(double chosen, double rejected, double margin) {
  return {{"logps/chosen", chosen}, {"logps/rejected", rejected}, {"rewards/margins", margin}};
}

TEST(DriftMonitorTest, WarnsOnceWhenChosenFallsPastTheThreshold) {
  DriftMonitor monitor(5.0);
  EXPECT_FALSE(monitor.Observe(1, Means(-40, -50, 0)));
  EXPECT_FALSE(monitor.Observe(2, Means(-44, -60, 1)));  // 4 nats: within the threshold
  EXPECT_FALSE(monitor.Observe(3, Means(-30, -70, 2)));  // rising chosen is fine
  const auto warning = monitor.Observe(4, Means(-45.5, -80, 3));
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("warning: step 4: the mean log-prob of the chosen responses fell from -40 to -45.5 (by 5.5 "
                          "nats, more than metrics.drift_warning_nats=5); rejected: -50 -> -80, reward margin 3"),
            std::string::npos)
      << *warning;
  EXPECT_NE(warning->find("rpo_alpha"), std::string::npos);
  EXPECT_FALSE(monitor.Observe(5, Means(-60, -90, 4)));  // once only
}

TEST(DriftMonitorTest, ZeroDisablesIt) {
  DriftMonitor monitor(0);
  EXPECT_FALSE(monitor.Observe(1, Means(-40, -50, 0)));
  EXPECT_FALSE(monitor.Observe(2, Means(-400, -500, 0)));
}

}  // namespace
}  // namespace dpo
