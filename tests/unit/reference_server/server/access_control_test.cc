// Tests of the bearer-token check (every metadata shape, counted failures, no token in any
// message), the token file reader, and ServerOptions::Validate.
#include "reference_server/server/access_control.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/common/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

constexpr const char* kToken = "tok-3f9a_SECRET";

TEST(BearerTokenAuthTest, EachMetadataShapeGetsItsCode) {
  const BearerTokenAuth auth(kToken);
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> metadata;
    grpc::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"right token", {{"authorization", std::string("Bearer ") + kToken}}, grpc::StatusCode::OK},
      {"scheme in other case", {{"authorization", std::string("bearer ") + kToken}}, grpc::StatusCode::OK},
      {"no metadata", {}, grpc::StatusCode::UNAUTHENTICATED},
      {"other keys only", {{"x-token", kToken}}, grpc::StatusCode::UNAUTHENTICATED},
      {"basic scheme", {{"authorization", std::string("Basic ") + kToken}}, grpc::StatusCode::UNAUTHENTICATED},
      {"scheme without token", {{"authorization", "Bearer "}}, grpc::StatusCode::UNAUTHENTICATED},
      {"bare token", {{"authorization", kToken}}, grpc::StatusCode::UNAUTHENTICATED},
      {"wrong token", {{"authorization", "Bearer nope"}}, grpc::StatusCode::PERMISSION_DENIED},
      {"token prefix", {{"authorization", "Bearer tok-3f9a"}}, grpc::StatusCode::PERMISSION_DENIED},
      {"token plus suffix", {{"authorization", std::string("Bearer ") + kToken + "x"}}, grpc::StatusCode::PERMISSION_DENIED},
      {"one byte changed", {{"authorization", "Bearer tok-3f9a_SECRFT"}}, grpc::StatusCode::PERMISSION_DENIED},
  };
  uint64_t failures = 0;
  for (const Case& c : cases) {
    Metadata metadata;
    for (const auto& [key, value] : c.metadata) metadata.emplace(key, value);  // string_refs into c
    const grpc::Status status = auth.Check(metadata);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_EQ(status.error_message().find("tok-3f9a"), std::string::npos) << c.name << ": token in the message";
    if (c.code != grpc::StatusCode::OK) ++failures;
    EXPECT_EQ(auth.failures(), failures) << c.name;
  }
}

TEST(BearerTokenAuthTest, TokenFileIsTrimmedAndValidatedWithoutEchoingIt) {
  testing::TempDir dir;
  std::ofstream(dir.File("good")) << "  " << kToken << "\n\n";
  const auto auth = BearerTokenAuth::FromFile(dir.File("good"));
  Metadata metadata;
  const std::string value = std::string("Bearer ") + kToken;
  metadata.emplace("authorization", value);
  EXPECT_TRUE(auth->Check(metadata).ok());

  std::ofstream(dir.File("empty")) << " \n";
  std::ofstream(dir.File("two")) << "tok-3f9a one\n";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {dir.File("missing"), "auth_token_file: cannot read " + dir.File("missing")},
      {dir.File("empty"), "auth_token_file: " + dir.File("empty") + " holds no token"},
      {dir.File("two"), "auth_token_file: " + dir.File("two") + ": the token contains whitespace"},
  };
  for (const auto& [path, message] : bad) {
    try {
      BearerTokenAuth::FromFile(path);
      ADD_FAILURE() << path << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_EQ(std::string(e.what()).rfind(message, 0), 0U) << e.what();
      EXPECT_EQ(std::string(e.what()).find("tok-3f9a"), std::string::npos) << e.what();
    }
  }
}

TEST(ServerOptionsTest, DefaultsNeedOnlyAModelAndEveryProblemIsReported) {
  ServerOptions options;
  EXPECT_EQ(options.Validate(), std::vector<std::string>{"model: empty; give the reference model's directory"});
  options.model_dir = "m";
  EXPECT_TRUE(options.Validate().empty());
  EXPECT_EQ(options.listen, "127.0.0.1:50051");  // loopback unless told otherwise
  EXPECT_EQ(options.max_message_bytes, 64LL << 20);

  options.listen = "localhost";
  options.health_listen = "127.0.0.1:70000";
  options.batcher.max_batch_tokens = 0;
  options.cache_sync = "sometimes";
  options.cache_map_size_bytes = 1000;
  options.tls.cert_file = "c.pem";
  const std::vector<std::string> problems = options.Validate();
  const std::vector<std::string> expected = {
      "listen: \"localhost\" is not HOST:PORT with a port in [0, 65535]",
      "health_listen: \"127.0.0.1:70000\" is not HOST:PORT with a port in [0, 65535]",
      "cache_sync: \"sometimes\" must be one of: durable, no_meta_sync, no_sync",
      "max_batch_tokens: 0, must be at least 1",
      "tls_cert and tls_key: give both or neither (tls_cert=\"c.pem\", tls_key=\"\")",
      "cache_map_size_bytes: 1000 below the minimum of 1048576",
  };
  EXPECT_EQ(problems, expected);
}

TEST(ServerOptionsTest, SplitHostPortAcceptsPortZeroAndBracketedIpv6) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(SplitHostPort("[::1]:50051", &host, &port));
  EXPECT_EQ(host, "[::1]");
  EXPECT_EQ(port, 50051);
  for (const char* bad : {"", ":80", "host:", "host:-1", "host:65536", "host:8o", "host"}) {
    EXPECT_FALSE(SplitHostPort(bad, &host, &port)) << bad;
  }
}

}  // namespace
}  // namespace dpo
