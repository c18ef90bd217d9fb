// Tests of dpo-reference-server's command line and YAML config: the same keys in both, flags over
// the file, paths relative to the file, every problem reported, and the precompute subcommand.
#include "reference_server/app/server_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/common/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

struct Parsed {
  CommandLine command;
  std::string out;
  std::string err;
};

Parsed Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"dpo-reference-server"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parsed parsed;
  parsed.command = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

TEST(ServerConfigTest, FlagsFillEveryKindOfOption) {
  const Parsed parsed = Parse({"--model", "m", "--listen", "0.0.0.0:0", "--health-listen", "127.0.0.1:8081",
                               "--cache-dir", "c", "--max-batch-tokens", "4096", "--max-wait-ms", "0",
                               "--max-queued-requests", "7", "--threads", "2", "--cache-map-size-bytes", "2097152",
                               "--tls-cert", "s.pem", "--tls-key", "s.key", "--tls-client-ca", "ca.pem",
                               "--auth-token-file", "t"});
  ASSERT_EQ(parsed.command.mode, CommandLine::Mode::kServe) << parsed.err;
  const ServerOptions& o = parsed.command.server;
  EXPECT_EQ(o.model_dir, "m");
  EXPECT_EQ(o.listen, "0.0.0.0:0");
  EXPECT_EQ(o.health_listen, "127.0.0.1:8081");
  EXPECT_EQ(o.cache_dir, "c");
  EXPECT_EQ(o.batcher.max_batch_tokens, 4096);
  EXPECT_EQ(o.batcher.max_wait_ms, 0);
  EXPECT_EQ(o.batcher.max_queued_requests, 7);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.cache_map_size_bytes, 2097152U);
  EXPECT_EQ(o.tls.cert_file, "s.pem");
  EXPECT_EQ(o.tls.key_file, "s.key");
  EXPECT_EQ(o.tls.client_ca_file, "ca.pem");
  EXPECT_EQ(o.auth_token_file, "t");
  EXPECT_TRUE(o.Validate().empty());
}

TEST(ServerConfigTest, YamlFileWithFlagsOverridingAndPathsRelativeToTheFile) {
  testing::TempDir dir;
  std::ofstream(dir.File("server.yaml")) << "model: models/ref\nlisten: 127.0.0.1:6000\ncache_dir: /abs/cache\n"
                                         << "max_wait_ms: 9\nmax_batch_tokens: 1024\nauth_token_file: secrets/t\n"
                                         << "health_listen: ~\n";
  const Parsed parsed = Parse({"--config", dir.File("server.yaml"), "--max-batch-tokens", "2048"});
  ASSERT_EQ(parsed.command.mode, CommandLine::Mode::kServe) << parsed.err;
  const ServerOptions& o = parsed.command.server;
  EXPECT_EQ(o.model_dir, dir.File("models/ref"));
  EXPECT_EQ(o.auth_token_file, dir.File("secrets/t"));
  EXPECT_EQ(o.cache_dir, "/abs/cache");
  EXPECT_EQ(o.listen, "127.0.0.1:6000");
  EXPECT_EQ(o.batcher.max_wait_ms, 9);
  EXPECT_EQ(o.batcher.max_batch_tokens, 2048);  // the flag wins
  EXPECT_EQ(o.health_listen, "");       // null keeps the default
}

TEST(ServerConfigTest, EveryProblemOfAConfigFileIsReportedAtOnce) {
  ServerOptions options;
  try {
    ApplyServerConfigText("max_wait_ms: soon\nlisten_port: 5\ncache_map_size_bytes: -4\nmodel: [a, b]\n", "s.yaml", ".",
                          &options);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(e.what()),
              "4 problem(s) in the server config:\n"
              "  s.yaml: max_wait_ms: \"soon\" is not an integer\n"
              "  s.yaml: listen_port: unknown key\n"
              "  s.yaml: cache_map_size_bytes: \"-4\" is not a non-negative integer\n"
              "  s.yaml: model: expected a single value");
  }
  EXPECT_THROW(ApplyServerConfigText("- a\n- b\n", "s.yaml", ".", &options), Error);
  EXPECT_THROW(ApplyServerConfigText("a: [", "s.yaml", ".", &options), Error);
}

TEST(ServerConfigTest, BadFlagsAndUnknownFlagsExitWithCode2) {
  const Parsed bad_value = Parse({"--model", "m", "--max-wait-ms", "5ms"});
  EXPECT_EQ(bad_value.command.mode, CommandLine::Mode::kExit);
  EXPECT_EQ(bad_value.command.exit_code, 2);
  EXPECT_NE(bad_value.err.find("--max-wait-ms: \"5ms\" is not an integer"), std::string::npos) << bad_value.err;

  const Parsed unknown = Parse({"--model", "m", "--max-batch-size", "5"});
  EXPECT_EQ(unknown.command.mode, CommandLine::Mode::kExit);
  EXPECT_EQ(unknown.command.exit_code, 2);

  const Parsed missing_file = Parse({"--config", "/nonexistent/server.yaml"});
  EXPECT_EQ(missing_file.command.exit_code, 2);
  EXPECT_NE(missing_file.err.find("/nonexistent/server.yaml: cannot read the server config"), std::string::npos);

  const Parsed help = Parse({"--help"});
  EXPECT_EQ(help.command.mode, CommandLine::Mode::kExit);
  EXPECT_EQ(help.command.exit_code, 0);
  EXPECT_NE(help.out.find("--max-queued-requests"), std::string::npos) << help.out;
}

TEST(ServerConfigTest, PrecomputeSubcommandTakesTheJobAndSharedKeys) {
  const Parsed parsed = Parse({"precompute", "--model", "m", "--config", "job.yaml", "--cache-dir", "c", "--set",
                               "data.max_length=64", "--set", "training.per_device_batch_size=2", "--max-batch-tokens",
                               "512"});
  ASSERT_EQ(parsed.command.mode, CommandLine::Mode::kPrecompute) << parsed.err;
  const PrecomputeOptions& p = parsed.command.precompute;
  EXPECT_EQ(p.job_config, "job.yaml");
  EXPECT_EQ(p.server.model_dir, "m");
  EXPECT_EQ(p.server.cache_dir, "c");
  EXPECT_EQ(p.server.batcher.max_batch_tokens, 512);
  EXPECT_EQ(p.overrides, (std::vector<std::string>{"data.max_length=64", "training.per_device_batch_size=2"}));

  const Parsed missing = Parse({"precompute", "--model", "m"});  // no job file
  EXPECT_EQ(missing.command.mode, CommandLine::Mode::kExit);
  EXPECT_EQ(missing.command.exit_code, 2);
  const Parsed serve_only = Parse({"precompute", "--model", "m", "--config", "j", "--listen", "1.2.3.4:5"});
  EXPECT_EQ(serve_only.command.exit_code, 2) << "precompute does not listen";
}

}  // namespace
}  // namespace dpo
