// MetricsLog when writing fails for real: metrics.jsonl replaced by a link to /dev/full (every
// write fails with ENOSPC) between records. Training must not stop, nothing is lost or
// duplicated, and the file reads as one run once writing works again.
#include "trainer/loop/metrics_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/common/file_io.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

TEST(MetricsLogTest, AFailedWriteHoldsTheRecordAndWritesItWithTheNextOne) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  testing::TempDir dir;
  const std::string path = dir.File("metrics.jsonl");
  MetricsLog log(path, -1);
  log.Write({{"step", 1}});
  const std::string after_first = ReadFile(path);
  EXPECT_EQ(after_first, "{\"step\":1}\n");

  fs::rename(path, dir.File("saved.jsonl"));
  fs::create_symlink("/dev/full", path);
  EXPECT_NO_THROW(log.Write({{"step", 2}}));
  EXPECT_NO_THROW(log.Write({{"step", 3}}));
  EXPECT_EQ(log.failed_writes(), 2);
  EXPECT_EQ(log.held_records(), 2);

  fs::remove(path);
  fs::rename(dir.File("saved.jsonl"), path);
  log.Write({{"step", 4}});
  EXPECT_EQ(log.held_records(), 0);
  EXPECT_EQ(log.dropped_records(), 0);
  EXPECT_EQ(ReadFile(path), "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4}\n");
}

TEST(MetricsLogTest, ALineCutByAFailedWriteIsRemovedBeforeTheRetry) {
  testing::TempDir dir;
  const std::string path = dir.File("metrics.jsonl");
  MetricsLog log(path, -1);
  log.Write({{"step", 1}});
  // What a write that ran out of space part-way leaves behind.
  std::ofstream(path, std::ios::app) << "{\"step\":2,\"lo";
  log.Write({{"step", 2}});
  EXPECT_EQ(ReadFile(path), "{\"step\":1}\n{\"step\":2}\n");
}

TEST(MetricsLogTest, AResumedLogKeepsTheRecordsUpToTheCheckpoint) {
  testing::TempDir dir;
  const std::string path = dir.File("metrics.jsonl");
  {
    MetricsLog log(path, -1);
    for (int step = 1; step <= 5; ++step) log.Write({{"step", step}});
  }
  MetricsLog resumed(path, 3);
  resumed.Write({{"step", 4}});
  EXPECT_EQ(ReadFile(path), "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4}\n");
}

}  // namespace
}  // namespace dpo
