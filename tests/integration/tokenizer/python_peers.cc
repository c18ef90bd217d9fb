// The tokenizer tests' Python scripts.
#include "tests/integration/tokenizer/python_peers.h"

#include <gtest/gtest.h>

#include "tests/support/python_peer.h"

namespace dpo::testing {

const std::string& TokenizerScriptsDir() {
  static const std::string dir = DPO_TOKENIZER_SCRIPTS_DIR;
  return dir;
}

void RunPeerScript(const std::string& script, const std::vector<std::string>& args) {
  const ProcessResult result = RunPython(TokenizerScriptsDir() + "/" + script, args, 240);
  ASSERT_EQ(result.exit_code, 0) << script << " failed:\n" << OutputTail(result.output);
}

void WriteGpt2Tokenizer(const std::string& out_dir, const std::vector<std::string>& options) {
  std::string gpt2;
  ASSERT_NO_FATAL_FAILURE(TokenizerFixture("gpt2", &gpt2));
  std::vector<std::string> args = {gpt2, out_dir};
  args.insert(args.end(), options.begin(), options.end());
  ASSERT_NO_FATAL_FAILURE(RunPeerScript("gpt2_tokenizer_json.py", args));
}

}  // namespace dpo::testing
