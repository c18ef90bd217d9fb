// Running the Python peers and finding the tokenizer vocabularies.
#include "tests/support/python_peer.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace dpo::testing {

ProcessResult RunPython(const std::string& script, const std::vector<std::string>& args, double timeout_seconds) {
  std::vector<std::string> argv = {DPO_PYTHON, script};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", "RAYON_NUM_THREADS=1",
                           "TOKENIZERS_PARALLELISM=false", "PYTHONDONTWRITEBYTECODE=1"},
                    timeout_seconds);
}

std::string OutputTail(const std::string& output) {
  return output.size() > 3000 ? output.substr(output.size() - 3000) : output;
}

void TokenizerFixture(const std::string& name, std::string* dir) {
  const std::string root = DPO_TOKENIZER_FIXTURES;
  *dir = root + "/" + name;
  ASSERT_TRUE(std::filesystem::is_directory(*dir))
      << "no tokenizer folder " << *dir << ": reconfigure with -DDPO_TOKENIZER_FIXTURES=<the shared/tokenizers "
      << "folder: gpt2/, llama3/, llama3_1/, qwen3/, llama2/, gemma3/> (now DPO_TOKENIZER_FIXTURES=" << root << ")";
}

}  // namespace dpo::testing
