// TLS credentials from PEM files and the bearer-token check.
#include "reference_server/server/access_control.h"

#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/common/error.h"

namespace dpo {
namespace {

std::string ReadPem(const char* option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(std::string(option) + ": cannot read " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (contents.str().empty()) throw InvalidInput(std::string(option) + ": " + path + " is empty");
  return contents.str();
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Equal strings in time that depends only on their lengths.
bool ConstantTimeEquals(const std::string& expected, grpc::string_ref presented) {
  const std::size_t length = std::max(expected.size(), presented.size());
  unsigned difference = expected.size() == presented.size() ? 0U : 1U;
  for (std::size_t i = 0; i < length; ++i) {
    const auto a = static_cast<unsigned char>(i < expected.size() ? expected[i] : 0);
    const auto b = static_cast<unsigned char>(i < presented.size() ? presented.data()[i] : 0);
    difference |= static_cast<unsigned>(a ^ b);
  }
  return difference == 0;
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsOptions& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(tls.client_ca_file.empty()
                                            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.cert_chain = ReadPem("tls_cert", tls.cert_file);
  pair.private_key = ReadPem("tls_key", tls.key_file);
  ssl.pem_key_cert_pairs.push_back(pair);
  if (!tls.client_ca_file.empty()) ssl.pem_root_certs = ReadPem("tls_client_ca", tls.client_ca_file);
  return grpc::SslServerCredentials(ssl);
}

std::unique_ptr<BearerTokenAuth> BearerTokenAuth::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput("auth_token_file: cannot read " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string token = contents.str();
  std::size_t begin = 0;
  std::size_t end = token.size();
  while (begin < end && IsSpace(token[begin])) ++begin;
  while (end > begin && IsSpace(token[end - 1])) --end;
  token = token.substr(begin, end - begin);
  if (token.empty()) throw InvalidInput("auth_token_file: " + path + " holds no token");
  for (const char c : token) {
    if (IsSpace(c) || std::iscntrl(static_cast<unsigned char>(c)) != 0) {
      throw InvalidInput("auth_token_file: " + path +
                         ": the token contains whitespace or control characters (one token, one line)");
    }
  }
  return std::make_unique<BearerTokenAuth>(std::move(token));
}

BearerTokenAuth::BearerTokenAuth(std::string token) : token_(std::move(token)) {}

grpc::Status BearerTokenAuth::Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) {
    ++failures_;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization: missing; send metadata \"authorization: Bearer <token>\"");
  }
  const grpc::string_ref value = found->second;
  constexpr std::size_t kSchemeLength = 7;  // "Bearer "
  bool bearer = value.size() > kSchemeLength && value.data()[kSchemeLength - 1] == ' ';
  for (std::size_t i = 0; bearer && i + 1 < kSchemeLength; ++i) {
    bearer = std::tolower(static_cast<unsigned char>(value.data()[i])) == "bearer"[i];
  }
  if (!bearer) {
    ++failures_;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization: not a Bearer credential; send \"Bearer <token>\"");
  }
  if (!ConstantTimeEquals(token_, value.substr(kSchemeLength))) {
    ++failures_;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "authorization: the bearer token is not accepted");
  }
  return grpc::Status::OK;
}

}  // namespace dpo
