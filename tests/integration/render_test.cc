// dpo-data render against the trainer: for a mixed file (standard and conversational rows,
// explicit and implicit prompts, truncated, dropped and invalid rows) the ids it prints are
// those the first training step collates, its rejected rows are dpo-train's rejects.jsonl, and
// the tokens of its kept rows are the tokens dpo-train counts in that step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "core/data/batch.h"
#include "core/data/pair_sampler.h"
#include "core/data/preference_reader.h"
#include "job/job_config.h"
#include "job/job_tokenizer.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

const char* kRows =
    R"({"prompt": "Q: short?\nA:", "chosen": " yes indeed", "rejected": " no"})" "\n"
    R"({"prompt": [{"role": "user", "content": "Hi there"}], "chosen": [{"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "assistant", "content": "Go away."}]})" "\n"
    R"({"chosen": [{"role": "user", "content": "Implicit?"}, {"role": "assistant", "content": "Yes."}], "rejected": [{"role": "user", "content": "Implicit?"}, {"role": "assistant", "content": "No."}]})" "\n"
    R"({"prompt": "a very long prompt that goes on and on and on and on and on and on and on and on and on", "chosen": " the chosen answer is longer than the room that is left for it", "rejected": " the rejected one is long too, longer than the room left for it"})" "\n"
    "\n"
    R"({"prompt": "same", "chosen": " x", "rejected": " x"})" "\n"
    R"({"prompt": "bad", "chosen": 3})" "\n";

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.File("train.jsonl")) << kRows;
    // The global batch is the four kept pairs: the first step consumes all of them.
    std::ofstream(dir_.File("job.yaml"))
        << "model: {init: random, n_positions: 128, n_embd: 32, n_layer: 1, n_head: 2}\n"
        << "data: {train: train.jsonl, max_length: 64, max_prompt_length: 32, on_bad_row: skip}\n"
        << "training: {per_device_batch_size: 2, gradient_accumulation_steps: 2, max_steps: 1, threads: 1}\n"
        << "output: {dir: output}\nmetrics: {progress: never}\n";
  }
  std::string Job() const { return dir_.File("job.yaml"); }
  TempDir dir_;
};

TEST_F(RenderTest, PrintsTheIdsTheFirstTrainingStepConsumes) {
  const ProcessResult render = RunProcess({BinaryPath("dpo-data"), "render", "--config", Job(), "--out", dir_.File("rows.jsonl")});
  ASSERT_EQ(render.exit_code, 0) << render.output;
  const std::vector<nlohmann::json> rows = JsonLines(ReadFile(dir_.File("rows.jsonl")));
  ASSERT_EQ(rows.size(), 6u);  // the blank line is not a row
  std::vector<nlohmann::json> kept;
  for (const auto& row : rows) {
    if (row["status"] == "ok") kept.push_back(row);
  }
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(rows[4]["status"], "chosen_equals_rejected");
  EXPECT_EQ(rows[4]["line"], 6);
  EXPECT_EQ(rows[5]["status"], "invalid_row");
  EXPECT_EQ(rows[5]["fails_run"], false);  // on_bad_row: skip
  // The long row was cut by both limits, and says so.
  ASSERT_EQ(kept[3]["truncated"].size(), 3u);
  EXPECT_EQ(kept[3]["truncated"][0]["part"], "prompt");
  EXPECT_EQ(kept[3]["truncated"][0]["to"], 32);
  EXPECT_NE(kept[3]["truncated"][0]["limit"].get<std::string>().find("data.max_prompt_length=32"), std::string::npos);
  EXPECT_NE(kept[3]["truncated"][1]["limit"].get<std::string>().find("data.max_length=64"), std::string::npos);
  EXPECT_TRUE(kept[0]["truncated"].empty());

  // What the trainer's step collates for the first global batch, from the same job file.
  const JobConfig config = JobConfig::Load(Job(), {});
  const auto tokenizer = JobTokenizer(config);
  const PreferenceDataset dataset = LoadPreferenceData(config.data_train, *tokenizer, config.data);
  PairSampler sampler(static_cast<int64_t>(dataset.pairs.size()), 4, config.training.seed, 0, 1);
  std::vector<const TokenizedPair*> batch_pairs;
  for (const int64_t index : sampler.GlobalBatch()) batch_pairs.push_back(&dataset.pairs[static_cast<size_t>(index)]);
  const SequenceBatch batch = CollatePairs(batch_pairs, tokenizer->PadId());
  const int64_t b = static_cast<int64_t>(batch_pairs.size());
  for (int64_t i = 0; i < b; ++i) {
    const int64_t line = batch_pairs[static_cast<size_t>(i)]->source_line;
    const auto row = std::find_if(kept.begin(), kept.end(), [line](const auto& r) { return r["line"] == line; });
    ASSERT_NE(row, kept.end()) << "line " << line << " trained on but not rendered as kept";
    for (const auto& [offset, part] : {std::pair{int64_t{0}, "chosen"}, {b, "rejected"}}) {
      std::vector<int64_t> expected = (*row)["prompt_ids"].get<std::vector<int64_t>>();
      const auto completion = (*row)[std::string(part) + "_ids"].get<std::vector<int64_t>>();
      expected.insert(expected.end(), completion.begin(), completion.end());
      const at::Tensor ids = batch.input_ids[i + offset].slice(0, 0, static_cast<int64_t>(expected.size()));
      EXPECT_EQ(std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel()), expected)
          << "line " << line << ", " << part;
      EXPECT_EQ(batch.completion_mask[i + offset].sum().item<int64_t>(), (*row)[std::string(part) + "_mask_tokens"].get<int64_t>())
          << "line " << line << ", " << part;
    }
  }

  // dpo-train itself: its rejects and its token count of the first step.
  const ProcessResult train = RunProcess({BinaryPath("dpo-train"), "--config", Job()}, SingleThreadEnv());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::vector<nlohmann::json> rejects = JsonLines(ReadFile(dir_.File("output/rejects.jsonl")));
  ASSERT_EQ(rejects.size(), 2u);
  for (size_t i = 0; i < rejects.size(); ++i) {
    EXPECT_EQ(rejects[i]["line"], rows[4 + i]["line"]);
    EXPECT_EQ(rejects[i]["reason"], rows[4 + i]["reason"]);
  }
  int64_t tokens = 0;
  for (const auto& row : kept) {
    tokens += 2 * static_cast<int64_t>(row["prompt_ids"].size()) + static_cast<int64_t>(row["chosen_ids"].size()) +
              static_cast<int64_t>(row["rejected_ids"].size());
  }
  const std::vector<nlohmann::json> metrics = JsonLines(ReadFile(dir_.File("output/metrics.jsonl")));
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0]["num_tokens"].get<int64_t>(), tokens);
}

TEST_F(RenderTest, TextFormatMarksThePartsAndSaysWhatARunWouldDo) {
  const ProcessResult render = RunProcess(
      {BinaryPath("dpo-data"), "render", "--config", Job(), "--format", "text", "--rows", "7", "--set", "data.on_bad_row=error"});
  ASSERT_EQ(render.exit_code, 0) << render.output;
  EXPECT_NE(render.output.find("--- prompt (13 tokens, not scored) ---\n<|bos|>Q: short?\nA:\n--- chosen (12 tokens, scored) ---"),
            std::string::npos)
      << render.output;
  EXPECT_NE(render.output.find("cut: prompt "), std::string::npos) << render.output;
  EXPECT_NE(render.output.find(":7  invalid_row: field \"chosen\": expected a string, found number"), std::string::npos)
      << render.output;
  EXPECT_NE(render.output.find("(ends the run: data.on_bad_row=error)"), std::string::npos) << render.output;

  const ProcessResult first = RunProcess({BinaryPath("dpo-data"), "render", "--config", Job(), "--rows", "2"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find(R"({"rows":2,"kept":2,"dropped":0,"invalid":0})"), std::string::npos) << first.output;
}

TEST_F(RenderTest, AMissingDataFileIsAnErrorNamingIt) {
  const ProcessResult render =
      RunProcess({BinaryPath("dpo-data"), "render", "--config", Job(), "--data", dir_.File("nope.jsonl")});
  EXPECT_EQ(render.exit_code, 2) << render.output;
  EXPECT_NE(render.output.find("nope.jsonl"), std::string::npos) << render.output;
}

}  // namespace
}  // namespace dpo::testing
