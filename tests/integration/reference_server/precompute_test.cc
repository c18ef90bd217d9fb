// `dpo-reference-server precompute` fills the cache from a dpo-train job's data with the trainer's
// pipeline: a server over that cache then answers every request the trainer's pipeline builds
// (same tokenisation, truncation, collation and wire conversion) from the cache, with the values
// a direct computation gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "core/data/batch.h"
#include "core/data/preference_reader.h"
#include "core/model/fingerprint.h"
#include "proto/wire/score_wire.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using namespace dpo::testing;  // NOLINT: test helpers

void WritePairs(const std::string& path, int count, const std::string& tag) {
  std::ofstream out(path);
  for (int i = 0; i < count; ++i) {
    // Long prompts: truncated (keep_end) to max_prompt_length, as the trainer does.
    nlohmann::json row = {{"prompt", "Question " + tag + std::to_string(i) + ": what is the colour of the sky at dusk?"},
                          {"chosen", " red " + tag + std::to_string(i)},
                          {"rejected", " blue " + tag + std::to_string(i * 7)}};
    out << row.dump() << "\n";
  }
  out << nlohmann::json({{"prompt", "same"}, {"chosen", " x"}, {"rejected", " x"}}).dump() << "\n";  // dropped
}

TEST(PrecomputeTest, FillsTheCacheThatTheTrainersRequestsThenHitCompletely) {
  TempDir dir;
  const std::shared_ptr<CausalLm> model = WriteTinyModel(dir.File("model"), 14);
  WritePairs(dir.File("train.jsonl"), 10, "t");
  WritePairs(dir.File("eval.jsonl"), 3, "e");
  std::ofstream(dir.File("job.yaml")) << "model:\n  init: random\n  n_positions: 64\n  n_embd: 32\n  n_layer: 1\n  n_head: 2\n"
                                      << "data:\n  train: train.jsonl\n  eval: eval.jsonl\n  max_length: 40\n"
                                      << "  max_prompt_length: 24\n"
                                      << "training:\n  per_device_batch_size: 4\n";
  const std::vector<std::string> command = {BinaryPath("dpo-reference-server"), "precompute", "--model",
                                            dir.File("model"), "--config", dir.File("job.yaml"), "--cache-dir",
                                            dir.File("cache")};
  const ProcessResult first = RunProcess(command, ServerEnv(), 120);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("precompute: 13 pairs, 26 sequences: 26 computed, 0 already cached; 2 rows dropped"),
            std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("precompute data.train: 10/10 pairs"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("precompute data.eval: 3/3 pairs"), std::string::npos) << first.output;
  const ProcessResult second = RunProcess(command, ServerEnv(), 120);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("26 sequences: 0 computed, 26 already cached"), std::string::npos) << second.output;

  // The trainer's pipeline, by hand: byte tokenizer, the job's data options, pairs of 4.
  DataOptions options;
  options.max_length = 40;
  options.max_prompt_length = 24;
  const auto tokenizer = CreateTokenizer("byte");
  const std::string fingerprint = ModelFingerprint(*model, "byte");
  ServerProcess server(ServeArgs(dir.File("model"), dir.File("cache")), dir.File("server.log"));
  ASSERT_TRUE(server.WaitServing()) << server.Log();
  const auto channel = PlainChannel(server.address());
  int sequences = 0;
  for (const char* file : {"train.jsonl", "eval.jsonl"}) {
    const PreferenceDataset dataset = LoadPreferenceData(dir.File(file), *tokenizer, options);
    for (std::size_t start = 0; start < dataset.pairs.size(); start += 3) {  // other batch sizes: same keys
      std::vector<const TokenizedPair*> pairs;
      for (std::size_t i = start; i < std::min(dataset.pairs.size(), start + 3); ++i) pairs.push_back(&dataset.pairs[i]);
      const v1::ScoreRequest request = BuildScoreRequest(CollatePairs(pairs, tokenizer->PadId()), fingerprint);
      v1::ScoreResponse response;
      ASSERT_TRUE(CallScore(channel, request, &response).ok());
      for (int i = 0; i < request.sequences_size(); ++i) {
        const v1::Sequence& sequence = request.sequences(i);
        EXPECT_TRUE(response.scores(i).from_cache()) << file << " row " << start << "+" << i;
        const float expected =
            DirectScore(*model, {sequence.token_ids().begin(), sequence.token_ids().end()}, sequence.completion_start());
        EXPECT_NEAR(response.scores(i).sum_log_prob(), expected, 1e-6 * std::max(1.0F, std::fabs(expected)));
        ++sequences;
      }
    }
  }
  EXPECT_EQ(sequences, 26);
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(channel, &stats).ok());
  EXPECT_EQ(stats.sequences_computed(), 0U);
  EXPECT_EQ(stats.cache().hits(), 26U);
  EXPECT_EQ(stats.cache().entries(), 26U);
}

TEST(PrecomputeTest, AJobLongerThanTheModelsPositionsIsRefused) {
  TempDir dir;
  WriteTinyModel(dir.File("model"), 15);
  WritePairs(dir.File("train.jsonl"), 2, "t");
  std::ofstream(dir.File("job.yaml")) << "data:\n  train: train.jsonl\n  max_length: 128\n  max_prompt_length: 24\n";
  const ProcessResult result = RunProcess({BinaryPath("dpo-reference-server"), "precompute", "--model",
                                           dir.File("model"), "--config", dir.File("job.yaml"), "--cache-dir",
                                           dir.File("cache")},
                                          ServerEnv(), 120);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("data.max_length=128 exceeds " + dir.File("model") + " n_positions=64"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace dpo
