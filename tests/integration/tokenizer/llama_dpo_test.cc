// End to end: DPO of a tiny random Llama-family model (grouped-query attention, llama3 rope
// scaling, gradient checkpointing) with the byte-level BPE tokenizer built by HF `tokenizers`
// from OpenAI's GPT-2 files (gpt2_tokenizer_json.py), extended with ChatML's two special tokens
// and a ChatML chat_template (as chat fine-tunes of GPT-2 do), on conversational rows rendered
// with the template it recognises.
// The final model is written in bfloat16 as shards; it reloads in dpo-cluster, transformers loads
// the same directory as an HF checkpoint and computes the same logits (hf_peers/hf_logits.py), and
// a second job trains from it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "core/model/pretrained.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer_files.h"
#include "tests/integration/tokenizer/python_peers.h"
#include "tests/support/python_peer.h"
#include "tests/integration/train_job.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Conversations whose chosen reply always names one colour and the rejected reply another, so
// that a few DPO steps learn the preference.
void WriteChatPairs(const std::string& path, int rows) {
  std::ofstream out(path);
  for (int i = 0; i < rows; ++i) {
    const std::string item = std::to_string(i);
    const json row = {
        {"prompt", {{{"role", "system"}, {"content", "Answer in one sentence."}},
                    {{"role", "user"}, {"content", "Which colour suits item " + item + "?"}}}},
        {"chosen", {{{"role", "assistant"}, {"content", "Blue suits item " + item + "."}}}},
        {"rejected", {{{"role", "assistant"}, {"content", "Red suits item " + item + "."}}}}};
    out << row.dump() << "\n";
  }
}

TEST(LlamaDpoEndToEnd, TrainsOnChatDataAndTheOutputLoadsAsAnHfCheckpoint) {
  testing::TempDir dir;
  // GPT-2 plus <|im_start|> and <|im_end|> (ids 50257, 50258) as special tokens and a ChatML
  // chat_template.
  ASSERT_NO_FATAL_FAILURE(testing::WriteGpt2Tokenizer(dir.File("gpt2-tokenizer"), {"--chatml"}));
  WriteChatPairs(dir.File("chat.jsonl"), 48);
  std::ofstream(dir.File("job.yaml")) << "model:\n"
                                         "  init: random\n"
                                         "  seed: 3\n"
                                         "  model_type: llama\n"
                                         "  hidden_size: 32\n"
                                         "  intermediate_size: 64\n"
                                         "  num_hidden_layers: 2\n"
                                         "  num_attention_heads: 4\n"
                                         "  num_key_value_heads: 2\n"
                                         "  max_position_embeddings: 128\n"
                                         "  rope_theta: 500000.0\n"
                                         "  rope_scaling: {rope_type: llama3, factor: 8.0, low_freq_factor: 1.0,\n"
                                         "                 high_freq_factor: 4.0, original_max_position_embeddings: 256}\n"
                                         "  gradient_checkpointing: true\n"
                                         "tokenizer:\n  type: " << dir.File("gpt2-tokenizer") << "\n"
                                         "data:\n"
                                         "  train: chat.jsonl\n"
                                         "  chat_template: auto\n"
                                         "  max_length: 128\n"
                                         "  max_prompt_length: 96\n"
                                         "training:\n"
                                         "  loss_type: sigmoid\n"
                                         "  beta: 0.1\n"
                                         "  learning_rate: 0.003\n"
                                         "  per_device_batch_size: 8\n"
                                         "  epochs: 2\n"
                                         "output:\n"
                                         "  dir: output\n"
                                         "  save_dtype: bfloat16\n"
                                         "  max_shard_size_mb: 1\n";
  const auto run = testing::RunProcess({testing::BinaryPath("dpo-train"), "--config", dir.File("job.yaml")},
                                       testing::SingleThreadEnv(), 600);
  ASSERT_EQ(run.exit_code, 0) << testing::OutputTail(run.output);

  // It learned the preference: from ln 2 (policy = reference) to a clearly positive margin.
  std::vector<json> records;
  std::ifstream metrics(dir.File("output/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    const json record = json::parse(line);
    if (record.contains("loss") && !record.contains("eval/loss")) records.push_back(record);
  }
  ASSERT_EQ(records.size(), 12u);  // 48 pairs / 8 per step, 2 epochs
  EXPECT_NEAR(records.front()["loss"].get<double>(), std::log(2.0), 1e-5);
  EXPECT_LT(records.back()["loss"].get<double>(), records.front()["loss"].get<double>() - 0.1);
  EXPECT_GT(records.back()["rewards/margins"].get<double>(), 0.2);

  // The output: HF layout in bfloat16 shards, the tokenizer's own files copied unchanged.
  const std::string final_dir = dir.File("output/final");
  const json config = json::parse(ReadFile(final_dir + "/config.json"));
  EXPECT_EQ(config.at("architectures"), json({"LlamaForCausalLM"}));
  EXPECT_EQ(config.at("torch_dtype"), "bfloat16");
  EXPECT_EQ(config.at("vocab_size"), 50259);
  EXPECT_EQ(config.at("num_key_value_heads"), 2);
  EXPECT_EQ(config.at("eos_token_id"), 50256);
  const std::vector<std::string> weight_files = ModelWeightFiles(final_dir);
  ASSERT_GT(weight_files.size(), 2u);  // 3.3M bfloat16 parameters (6.5 MB) in 1 MB shards
  EXPECT_EQ(weight_files.front(), kWeightsIndexFileName);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_EQ(ReadFile(final_dir + "/" + name), ReadFile(dir.File("gpt2-tokenizer/") + name)) << name;
  }

  // Reloads in dpo-cluster with its tokenizer.
  const auto model = LoadModelDirectory(final_dir);
  const auto tokenizer = LoadTokenizerForModel(final_dir, "byte");
  EXPECT_EQ(tokenizer->VocabSize(), 50259);
  const std::vector<TokenId> ids = tokenizer->Encode("<|im_start|>user\nWhich colour suits item 7?<|im_end|>\n");
  EXPECT_EQ(ids.front(), 50257);
  const at::Tensor input_ids = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
  torch::NoGradGuard no_grad;
  model->module().eval();
  const at::Tensor logits = model->Logits(input_ids);

  // ... and in transformers, as an HF checkpoint, with the same logits.
  WriteSafetensors(dir.File("inputs.safetensors"), {{"input_ids", input_ids}});
  const auto reference = testing::RunPython(std::string(DPO_SOURCE_DIR) + "/tests/integration/hf_peers/hf_logits.py",
                                            {final_dir, dir.File("inputs.safetensors"), dir.File("reference.safetensors")});
  ASSERT_EQ(reference.exit_code, 0) << testing::OutputTail(reference.output);
  const at::Tensor expected = ReadSafetensors(dir.File("reference.safetensors")).tensors.at(0).tensor;
  ASSERT_EQ(expected.sizes(), logits.sizes());
  EXPECT_LT((logits - expected).abs().max().item<double>(), 1e-3);

  // The HF directory is a starting point too: a second job trains from it (bf16 shards into
  // float32 weights; its tokenizer comes with it), starting equal to its reference.
  std::ofstream(dir.File("again.yaml")) << "model:\n  init: " << final_dir << "\n"
                                        << "data:\n  train: chat.jsonl\n  max_length: 128\n  max_prompt_length: 96\n"
                                           "training:\n  max_steps: 2\n  learning_rate: 0.003\n"
                                           "output:\n  dir: again\n";
  const auto again = testing::RunProcess({testing::BinaryPath("dpo-train"), "--config", dir.File("again.yaml")},
                                         testing::SingleThreadEnv(), 600);
  ASSERT_EQ(again.exit_code, 0) << testing::OutputTail(again.output);
  std::ifstream again_metrics(dir.File("again/metrics.jsonl"));
  std::string first;
  ASSERT_TRUE(std::getline(again_metrics, first));
  EXPECT_NEAR(json::parse(first)["loss"].get<double>(), std::log(2.0), 1e-5);
  const json again_config = json::parse(ReadFile(dir.File("again/final/config.json")));
  EXPECT_EQ(again_config.at("torch_dtype"), "bfloat16");  // save_dtype auto: that of model.init
  EXPECT_EQ(again_config.at("rope_scaling"), config.at("rope_scaling"));
  EXPECT_EQ(LoadModelDirectory(dir.File("again/final"))->config().NumParameters(), model->config().NumParameters());
}

}  // namespace
}  // namespace dpo
