// dpo-generate's library: prompts go through the training prompt path (BOS), rows carry the
// decoded response without EOS, and each prompt's samples are independent of the other prompts.
#include "trainer/tools/generate_responses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"
#include "trainer/tools/jsonl_io.h"
#include "trainer/tools/split_mix64.h"

namespace dpo {
namespace {

using testing::TempDir;
using testing::TinyGpt2Config;

std::vector<PromptRow> Prompts(const std::vector<std::string>& texts) {
  std::vector<PromptRow> rows;
  for (size_t i = 0; i < texts.size(); ++i) rows.push_back({"prompts.jsonl:" + std::to_string(i + 1), texts[i]});
  return rows;
}

TEST(GenerateResponses, GreedyRowsEqualGenerateOnTheBosPrompt) {
  auto model = CreateCausalLm(TinyGpt2Config(), 4);
  const auto tokenizer = CreateTokenizer("byte");
  GenerateResponsesOptions options;
  options.sampling.temperature = 0.0;
  options.sampling.max_new_tokens = 6;
  const auto lines = GenerateResponses(*model, *tokenizer, Prompts({"Describe the desert:"}), options);
  ASSERT_EQ(lines.size(), 1u);
  const auto row = nlohmann::json::parse(lines[0]);
  std::vector<TokenId> prompt_ids = {*tokenizer->BosId()};
  for (char c : std::string("Describe the desert:")) prompt_ids.push_back(static_cast<unsigned char>(c));
  const auto expected = Generate(*model, prompt_ids, tokenizer->EosId(), options.sampling);
  EXPECT_EQ(row.at("prompt"), "Describe the desert:");
  // Random weights sample arbitrary bytes: compare after the same UTF-8 repair the writer applies.
  EXPECT_EQ(row.at("response"), nlohmann::json::parse(ToJsonLine(nlohmann::ordered_json(tokenizer->Decode(expected)))));
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(row.at("sample"), 0);
  EXPECT_EQ(row.at("finish_reason"), expected.size() == 6 ? "max_new_tokens" : "eos");
}

TEST(GenerateResponses, PromptSamplesDependOnlyOnTheirOwnIndexAndSeed) {
  auto model = CreateCausalLm(TinyGpt2Config(), 5);
  const auto tokenizer = CreateTokenizer("byte");
  GenerateResponsesOptions options;
  options.sampling.max_new_tokens = 8;
  options.sampling.seed = 17;
  options.samples_per_prompt = 3;
  const auto both = GenerateResponses(*model, *tokenizer, Prompts({"a:", "b:"}), options);
  ASSERT_EQ(both.size(), 6u);
  EXPECT_EQ(GenerateResponses(*model, *tokenizer, Prompts({"a:", "b:"}), options), both);
  // Prompt 0 alone gives the same rows: its seed is DeriveSeed(17, 0) whatever follows it.
  const auto first = GenerateResponses(*model, *tokenizer, Prompts({"a:"}), options);
  EXPECT_EQ(first, std::vector<std::string>(both.begin(), both.begin() + 3));
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(nlohmann::json::parse(both[3 + k]).at("sample"), k);
  options.sampling.seed = 18;
  EXPECT_NE(GenerateResponses(*model, *tokenizer, Prompts({"a:"}), options), first);
}

TEST(GenerateResponses, ReadsPromptRowsAndNamesBadOnes) {
  TempDir dir;
  WriteFileAtomically(dir.File("p.jsonl"), "{\"prompt\":\"x\",\"id\":1}\n\n{\"prompt\":\"y\"}\n");
  const auto rows = ReadPromptRows(dir.File("p.jsonl"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].prompt, "y");
  EXPECT_EQ(rows[1].place, dir.File("p.jsonl") + ":3");
  WriteFileAtomically(dir.File("bad.jsonl"), "{\"prompt\":\"x\"}\n{\"text\":\"y\"}\n");
  try {
    ReadPromptRows(dir.File("bad.jsonl"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.File("bad.jsonl") + ":2: field \"prompt\": missing");
  }
  // A prompt that fills the window is named by its place.
  auto model = CreateCausalLm(TinyGpt2Config(), 6);
  GenerateResponsesOptions options;
  try {
    GenerateResponses(*model, *CreateTokenizer("byte"), Prompts({"ok", std::string(70, 'z')}), options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "prompts.jsonl:2: generation: prompt of 71 tokens leaves no room for a new token in the model's "
              "n_positions=64");
  }
}

}  // namespace
}  // namespace dpo
