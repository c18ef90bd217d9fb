// Access control end to end, with a CA, server and client certificates made by the openssl CLI:
// TLS + bearer token, mutual TLS, the token over plaintext (hand-added metadata), counted
// failures, a token never logged, health exempt, and bad security options refused at start.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/model/fingerprint.h"
#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using namespace dpo::testing;  // NOLINT: test helpers

constexpr const char* kToken = "s3cret-Token-0123456789";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = WriteTinyModel(dir_.File("model"), 9);
    std::ofstream(dir_.File("token")) << kToken << "\n";
    MakeCa("ca");
    MakeCa("rogue-ca");
    MakeCertificate("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    MakeCertificate("client", "ca", "extendedKeyUsage=clientAuth\n");
    MakeCertificate("rogue-client", "rogue-ca", "extendedKeyUsage=clientAuth\n");
  }

  void Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult result = RunProcess(argv, {}, 60);
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  void MakeCa(const std::string& name) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             dir_.File(name + ".key"), "-out", dir_.File(name + ".pem"), "-days", "2", "-subj", "/CN=" + name});
  }
  void MakeCertificate(const std::string& name, const std::string& ca, const std::string& extensions) {
    std::ofstream(dir_.File(name + ".ext")) << extensions;
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             dir_.File(name + ".key"), "-out", dir_.File(name + ".csr"), "-subj", "/CN=" + name});
    Openssl({"x509", "-req", "-in", dir_.File(name + ".csr"), "-CA", dir_.File(ca + ".pem"), "-CAkey",
             dir_.File(ca + ".key"), "-CAcreateserial", "-out", dir_.File(name + ".pem"), "-days", "2", "-extfile",
             dir_.File(name + ".ext")});
  }

  std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--health-listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(ServeArgs(dir_.File("model"), dir_.File("cache"), args),
                                                  dir_.File("server.log"));
    EXPECT_FALSE(server->address().empty()) << server->Log();
    EXPECT_TRUE(server->WaitServing()) << server->Log();
    return server;
  }

  // A TLS channel trusting `ca`; with `client` set, presenting that certificate; with `token`
  // set, sending it as call credentials.
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address, const std::string& ca,
                                            const std::string& client = "", const std::string& token = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(dir_.File(ca + ".pem"));
    if (!client.empty()) {
      ssl.pem_cert_chain = Read(dir_.File(client + ".pem"));
      ssl.pem_private_key = Read(dir_.File(client + ".key"));
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
    if (!token.empty()) {
      credentials = grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
    }
    grpc::ChannelArguments arguments;
    arguments.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(address, credentials, arguments);
  }

  v1::ScoreRequest Request() { return MakeRequest(ModelFingerprint(*model_, "byte"), RandomSequences(3, 20, 6)); }

  TempDir dir_;
  std::shared_ptr<CausalLm> model_;
};

TEST_F(AccessControlTest, TlsWithTokenAcceptsOnlyTheRightTokenAndCountsFailures) {
  auto server = Start({"--tls-cert", dir_.File("server.pem"), "--tls-key", dir_.File("server.key"), "--auth-token-file",
                       dir_.File("token")});
  const v1::ScoreRequest request = Request();
  v1::ScoreResponse response;
  EXPECT_EQ(CallScore(PlainChannel(server->address()), request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);  // no plaintext on a TLS port

  const grpc::Status missing = CallScore(TlsChannel(server->address(), "ca"), request, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED) << missing.error_message();
  const grpc::Status wrong = CallScore(TlsChannel(server->address(), "ca", "", "not-the-token"), request, &response);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::PERMISSION_DENIED) << wrong.error_message();
  v1::ModelInfo info;
  EXPECT_EQ(CallModelInfo(TlsChannel(server->address(), "ca"), &info).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const auto good = TlsChannel(server->address(), "ca", "", kToken);
  const grpc::Status accepted = CallScore(good, request, &response);
  ASSERT_TRUE(accepted.ok()) << accepted.error_message();
  ASSERT_EQ(response.scores_size(), 3);
  const v1::Sequence& first = request.sequences(0);
  EXPECT_NEAR(response.scores(0).sum_log_prob(),
              DirectScore(*model_, {first.token_ids().begin(), first.token_ids().end()}, first.completion_start()), 1e-4);
  v1::ServerStats stats;
  ASSERT_TRUE(CallStats(good, &stats).ok());
  EXPECT_EQ(stats.auth_failures(), 3U);
  EXPECT_EQ(stats.requests(), 3U);         // two refused Score calls and the accepted one
  EXPECT_EQ(stats.requests_failed(), 2U);
  // Health needs no token, on the TLS port and on the plaintext probe port.
  EXPECT_EQ(HealthCheck(TlsChannel(server->address(), "ca"), "dpo.v1.ReferenceModel"), "SERVING");
  EXPECT_EQ(HealthCheck(PlainChannel(server->health_address()), "dpo.v1.ReferenceModel"), "SERVING");
  EXPECT_EQ(server->Log().find(kToken), std::string::npos) << "the token must never be logged";
  EXPECT_EQ(server->Log().find("not-the-token"), std::string::npos);
}

TEST_F(AccessControlTest, MutualTlsRequiresAClientCertificateSignedByTheClientCa) {
  auto server = Start({"--tls-cert", dir_.File("server.pem"), "--tls-key", dir_.File("server.key"), "--tls-client-ca",
                       dir_.File("ca.pem")});
  v1::ModelInfo info;
  EXPECT_EQ(CallModelInfo(TlsChannel(server->address(), "ca"), &info).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "no client certificate";
  EXPECT_EQ(CallModelInfo(TlsChannel(server->address(), "ca", "rogue-client"), &info).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate from another CA";
  const grpc::Status accepted = CallModelInfo(TlsChannel(server->address(), "ca", "client"), &info);
  ASSERT_TRUE(accepted.ok()) << accepted.error_message();
  EXPECT_EQ(info.fingerprint(), ModelFingerprint(*model_, "byte"));
  EXPECT_EQ(HealthCheck(PlainChannel(server->health_address()), ""), "SERVING");
}

TEST_F(AccessControlTest, TokenOverPlaintextWithHandAddedMetadata) {
  auto server = Start({"--auth-token-file", dir_.File("token")});
  const auto channel = PlainChannel(server->address());
  const v1::ScoreRequest request = Request();
  v1::ScoreResponse response;
  EXPECT_EQ(CallScore(channel, request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CallScore(channel, request, &response, "wrong").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CallScore(channel, request, &response, std::string(kToken) + "x").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Basic ") + kToken);
    EXPECT_EQ(v1::ReferenceModel::NewStub(channel)->Score(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  const grpc::Status accepted = CallScore(channel, request, &response, kToken);
  ASSERT_TRUE(accepted.ok()) << accepted.error_message();
  EXPECT_EQ(response.scores_size(), 3);
  v1::ServerStats stats;
  EXPECT_EQ(CallStats(channel, &stats).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(CallStats(channel, &stats, kToken).ok());
  EXPECT_EQ(stats.auth_failures(), 5U);
  EXPECT_EQ(HealthCheck(channel, ""), "SERVING");
  EXPECT_EQ(server->Log().find(kToken), std::string::npos);
}

TEST_F(AccessControlTest, InconsistentSecurityOptionsAreRefusedAtStartWithExitCode2) {
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tls-cert", dir_.File("server.pem")}, "tls_cert and tls_key: give both or neither"},
      {{"--tls-client-ca", dir_.File("ca.pem")}, "tls_client_ca: mutual TLS needs tls_cert and tls_key too"},
      {{"--auth-token-file", dir_.File("missing-token")}, "auth_token_file: cannot read " + dir_.File("missing-token")},
      {{"--tls-cert", dir_.File("nope.pem"), "--tls-key", dir_.File("server.key")}, "tls_cert: cannot read"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {BinaryPath("dpo-reference-server")};
    for (const std::string& arg : ServeArgs(dir_.File("model"), dir_.File("cache"), c.extra)) argv.push_back(arg);
    const ProcessResult result = RunProcess(argv, ServerEnv(), 60);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace dpo
