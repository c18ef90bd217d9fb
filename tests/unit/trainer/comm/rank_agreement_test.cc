// FirstDifference names the dotted key of the first differing line of two YAML-shaped texts.
#include "trainer/loop/rank_agreement.h"

#include <gtest/gtest.h>

#include "trainer/comm/communicator.h"

namespace dpo {
namespace {

const char* kJob =
    "model:\n  init: random\n  seed: 0\n"
    "training:\n  loss_type: [sigmoid]\n  learning_rate: 0.001\n"
    "data_files:\n  train: abc\n";

TEST(RankAgreementTest, EqualTextsHaveNoDifference) { EXPECT_EQ(FirstDifference(kJob, kJob), ""); }

TEST(RankAgreementTest, NamesTheDottedKeyAndBothValues) {
  std::string other = kJob;
  other.replace(other.find("0.001"), 5, "0.002");
  EXPECT_EQ(FirstDifference(other, kJob), "training.learning_rate: 0.002 vs 0.001");
  std::string data = kJob;
  data.replace(data.find("abc"), 3, "abd");
  EXPECT_EQ(FirstDifference(kJob, data), "data_files.train: abc vs abd");
}

TEST(RankAgreementTest, NestedMapsAndListItemsKeepTheirPath) {
  const std::string a = "a:\n  b:\n    c: 1\n    d:\n      - x\n  e: 2\n";
  const std::string b = "a:\n  b:\n    c: 1\n    d:\n      - y\n  e: 2\n";
  EXPECT_EQ(FirstDifference(a, b), "a.b.d: - x vs - y");
  const std::string c = "a:\n  b:\n    c: 1\n    d:\n      - x\n  e: 3\n";
  EXPECT_EQ(FirstDifference(a, c), "a.e: 2 vs 3");
}

TEST(RankAgreementTest, MissingAndExtraLinesAreReported) {
  EXPECT_EQ(FirstDifference("a:\n  b: 1\n", "a:\n  b: 1\n  c: 2\n"), "a.c: (absent) vs 2");
  EXPECT_EQ(FirstDifference("a:\n  b: 1\n  c: 2\n", "a:\n  b: 1\n"), "a.c: 2 vs (absent)");
  EXPECT_EQ(FirstDifference("a:\n  b: 1\n", "a:\n  x: 1\n"), "a.b: 1 vs (key a.x)");
}

TEST(RankAgreementTest, ASingleRankAlwaysAgrees) {
  SingleProcessCommunicator single;
  EXPECT_NO_THROW(CheckRanksAgree(single, kJob, "the job"));
}

}  // namespace
}  // namespace dpo
