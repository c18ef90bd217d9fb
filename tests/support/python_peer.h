// The Python peers of the integration tests: scripts run with the project's Python (CMake's
// DPO_PYTHON, the .venv with transformers and tokenizers), and the real tokenizer vocabularies
// they are compared on (CMake's DPO_TOKENIZER_FIXTURES, by default ../shared/tokenizers).
#pragma once

#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace dpo::testing {

// DPO_PYTHON `script` `args...` with one BLAS/OpenMP thread and no bytecode written into the
// source tree, killed after `timeout_seconds`.
ProcessResult RunPython(const std::string& script, const std::vector<std::string>& args,
                        double timeout_seconds = 300);

// The last 3000 characters of a process's output, for failure messages.
std::string OutputTail(const std::string& output);

// Sets `dir` to DPO_TOKENIZER_FIXTURES/<name> (tokenizer.json + tokenizer_config.json, or GPT-2's
// encoder.json + vocab.bpe); a test failure naming the CMake variable to set when that folder
// does not exist. Use with ASSERT_NO_FATAL_FAILURE.
void TokenizerFixture(const std::string& name, std::string* dir);

}  // namespace dpo::testing
