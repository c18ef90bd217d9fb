// Access control of the main port: transport credentials (plaintext, TLS, or mTLS with a
// required and verified client certificate) and the bearer-token check every dpo.v1 RPC runs.
// The health service is never token-checked (Kubernetes probes carry no credentials).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/string_ref.h>

#include "reference_server/server/server_options.h"

namespace dpo {

// Credentials for the main port: InsecureServerCredentials when TLS is off; otherwise TLS with
// the PEM cert chain and key, and with tls.client_ca_file set, client certificates required and
// verified against that CA. Throws Error(kInvalidInput) naming the option and the file when a
// file cannot be read or is empty (the contents are checked by gRPC when the port starts).
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsOptions& tls);

// Checks "authorization: Bearer <token>" metadata against one configured token, in constant time
// with respect to the token's contents. Thread-safe (Check may run on many gRPC threads).
class BearerTokenAuth {
 public:
  // The token is the file's contents without leading and trailing whitespace. Throws
  // Error(kInvalidInput) naming the file -- never its contents -- when it cannot be read, is
  // empty, or holds whitespace or control characters inside the token.
  static std::unique_ptr<BearerTokenAuth> FromFile(const std::string& path);
  explicit BearerTokenAuth(std::string token);

  // OK when the first "authorization" entry is "Bearer <token>" (scheme case-insensitive).
  // UNAUTHENTICATED when there is no authorization metadata or it is not a Bearer credential;
  // PERMISSION_DENIED when the token is wrong. Each failure is counted. Messages never contain
  // the configured or the presented token.
  grpc::Status Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

  uint64_t failures() const { return failures_.load(); }

 private:
  std::string token_;
  mutable std::atomic<uint64_t> failures_{0};
};

}  // namespace dpo
