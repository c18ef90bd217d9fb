// Hostfile parsing: slots and max_slots, comments, blank lines, merged hosts, errors by line.
#include "launcher/hostfile.h"

#include <gtest/gtest.h>

#include "core/common/error.h"

namespace dpo {
namespace {

TEST(Hostfile, ReadsHostsSlotsCommentsAndBlankLines) {
  const Hostfile hostfile = ParseHostfile(
      "# cluster\n"
      "\n"
      "node-a slots=4   # the big one\n"
      "  node-b slots=2 max_slots=3\n"
      "node-c\n"
      "node-d max-slots=5\n",
      "hosts.txt");
  EXPECT_EQ(hostfile.path, "hosts.txt");
  ASSERT_EQ(hostfile.hosts.size(), 4u);
  EXPECT_EQ(hostfile.hosts[0].host, "node-a");
  EXPECT_EQ(hostfile.hosts[0].slots, 4);
  EXPECT_FALSE(hostfile.hosts[0].max_slots.has_value());
  EXPECT_EQ(hostfile.hosts[1].host, "node-b");
  EXPECT_EQ(hostfile.hosts[1].slots, 2);
  EXPECT_EQ(hostfile.hosts[1].max_slots, 3);
  EXPECT_EQ(hostfile.hosts[2].host, "node-c");
  EXPECT_FALSE(hostfile.hosts[2].slots.has_value());
  EXPECT_EQ(hostfile.hosts[3].max_slots, 5);
}

TEST(Hostfile, AHostListedTwiceAddsItsSlots) {
  const Hostfile hostfile = ParseHostfile("a slots=2\nb slots=1\na slots=3\n", "h");
  ASSERT_EQ(hostfile.hosts.size(), 2u);
  EXPECT_EQ(hostfile.hosts[0].host, "a");
  EXPECT_EQ(hostfile.hosts[0].slots, 5);
  EXPECT_EQ(hostfile.hosts[1].slots, 1);
}

TEST(Hostfile, BadLinesAreReportedWithFileAndLine) {
  const struct {
    std::string text;
    std::string message;
  } cases[] = {
      {"a slots=2\nb slots=zero\n", "hosts:2: slots=\"zero\" must be a positive integer"},
      {"a slots=0\n", "hosts:1: slots=\"0\" must be a positive integer"},
      {"a slots=-1\n", "hosts:1: slots=\"-1\" must be a positive integer"},
      {"\n# x\na cpus=4\n", "hosts:3: unknown qualifier \"cpus=4\" (expected slots=N or max_slots=N)"},
      {"a slots\n", "hosts:1: unknown qualifier \"slots\" (expected slots=N or max_slots=N)"},
      {"slots=4\n", "hosts:1: expected a host name first, found \"slots=4\""},
      {"a slots=4 max_slots=2\n", "hosts:1: slots=4 exceeds max_slots=2"},
      {"# only a comment\n\n", "hosts: no hosts listed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    try {
      ParseHostfile(c.text, "hosts");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_EQ(std::string(e.what()), c.message);
    }
  }
}

TEST(Hostfile, UnreadableFileIsInvalidInputNamingIt) {
  try {
    ReadHostfile("/nonexistent/hostfile");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/hostfile"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dpo
