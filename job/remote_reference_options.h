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
  // The model fingerprint the server must serve (dpo-reference-server prints it). Required unless
  // accept_any_model: without it a run could train against whatever model a server holds.
  std::string expected_fingerprint;
  // Accept the fingerprint the server reports (then pinned by checkpoints). Default: false.
  bool accept_any_model = false;
  // The longest sequence this job sends (data.max_length): a server that accepts less is refused
  // at connect. Set by the trainer, not a job key. Default: 0 (not checked).
  int64_t required_sequence_tokens = 0;
  // Deadline of one call. Default: 30 s.
  double call_timeout_seconds = 30;
  // Retrying one batch (UNAVAILABLE, DEADLINE_EXCEEDED) gives up after this long (exit 3).
  // Default: 120 s.
  double retry_budget_seconds = 120;
  // Micro-batches requested ahead of the step that needs them. Default: 4.
  int64_t prefetch_window = 4;
};

}  // namespace dpo
