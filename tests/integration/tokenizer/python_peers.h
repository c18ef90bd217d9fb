// The tokenizer integration tests' own Python scripts (this folder: make_corpus.py,
// hf_encode.py, gpt2_tokenizer_json.py), run with the project's Python (tests/support/python_peer.h).
#pragma once

#include <string>
#include <vector>

namespace dpo::testing {

// This folder, where the scripts are.
const std::string& TokenizerScriptsDir();

// Runs `DPO_PYTHON <this folder>/<script> <args...>`; a test failure with the output's tail
// when it exits non-zero. Use with ASSERT_NO_FATAL_FAILURE.
void RunPeerScript(const std::string& script, const std::vector<std::string>& args);

// Writes an HF-layout GPT-2 tokenizer (tokenizer.json + tokenizer_config.json), built with HF
// `tokenizers` from OpenAI's encoder.json + vocab.bpe in DPO_TOKENIZER_FIXTURES/gpt2, into
// `out_dir`; `options` are gpt2_tokenizer_json.py's (--merges, --split, --chatml).
void WriteGpt2Tokenizer(const std::string& out_dir, const std::vector<std::string>& options = {});

}  // namespace dpo::testing
