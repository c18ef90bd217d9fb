// The transformers peers of tests/integration/hf_peers (hf_logits.py, hf_chat_template.py), run
// with the project's Python (CMake's DPO_PYTHON: the .venv with transformers and tokenizers), and
// the real tokenizer vocabularies they are compared on (CMake's DPO_TOKENIZER_FIXTURES).
#pragma once

#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace dpo::testing {

// DPO_PYTHON <this folder>/<script> args..., one BLAS/OpenMP thread, no bytecode written into
// the source tree, killed after `timeout_seconds`.
ProcessResult RunHfPeer(const std::string& script, const std::vector<std::string>& args,
                        double timeout_seconds = 300);

// The last 3000 characters of a process's output, for failure messages.
std::string OutputTail(const std::string& output);

// Sets `dir` to DPO_TOKENIZER_FIXTURES/<name> (tokenizer.json, tokenizer_config.json); a test
// failure that names the CMake variable to set when that folder does not exist. Use with
// ASSERT_NO_FATAL_FAILURE.
void TokenizerFolder(const std::string& name, std::string* dir);

}  // namespace dpo::testing
