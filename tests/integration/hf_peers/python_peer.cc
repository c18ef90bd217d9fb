// Paths of the Python peers and the tokenizer vocabularies, and running a peer.
#include "tests/integration/hf_peers/python_peer.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace dpo::testing {

ProcessResult RunHfPeer(const std::string& script, const std::vector<std::string>& args, double timeout_seconds) {
  std::vector<std::string> argv = {DPO_PYTHON, std::string(DPO_HF_PEERS_DIR) + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1"},
                    timeout_seconds);
}

std::string OutputTail(const std::string& output) {
  return output.size() > 3000 ? output.substr(output.size() - 3000) : output;
}

void TokenizerFolder(const std::string& name, std::string* dir) {
  const std::string root = DPO_TOKENIZER_FIXTURES;
  *dir = root + "/" + name;
  ASSERT_TRUE(std::filesystem::is_directory(*dir))
      << "no tokenizer folder " << *dir << ": reconfigure with -DDPO_TOKENIZER_FIXTURES=<the shared/tokenizers "
      << "folder: llama3/, llama3_1/, qwen3/, gemma3/ and llama2/, each with tokenizer.json and "
         "tokenizer_config.json> (now DPO_TOKENIZER_FIXTURES="
      << root << ")";
}

}  // namespace dpo::testing
