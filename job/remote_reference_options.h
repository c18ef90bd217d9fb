// How dpo-train reaches a dpo-reference-server (reference.mode=server): the options of the
// trainer's RemoteReferenceScorer (trainer/reference/remote/), declared here so that the job
// file's reference section embeds them and each default is written once.
#pragma once

#include <cstdint>
#include <string>

namespace dpo {

struct RemoteReferenceOptions {
  // HOST:PORT of the server. Default: none (required in server mode).
  std::string address;
  // PEM roots; setting it enables TLS. Default: none (plaintext unless a client cert is given).
  std::string tls_ca_file;
  // Client certificate and key for mTLS; both or neither. Default: none.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A file holding the bearer token sent on every call (never logged). Default: none.
  std::string auth_token_file;
  // The model fingerprint the server must serve. Default: empty (accept the server's, then pin it).
  std::string expected_fingerprint;
  // Deadline of one call. Default: 30 s.
  double call_timeout_seconds = 30;
  // Retrying one batch (UNAVAILABLE, DEADLINE_EXCEEDED) gives up after this long (exit 3).
  // Default: 120 s.
  double retry_budget_seconds = 120;
  // Micro-batches requested ahead of the step that needs them. Default: 4.
  int64_t prefetch_window = 4;
};

}  // namespace dpo
