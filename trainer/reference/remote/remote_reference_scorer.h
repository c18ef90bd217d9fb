// RemoteReferenceScorer: reference log-probs from a dpo-reference-server over gRPC. One channel
// for the whole run; a deadline on every call; UNAVAILABLE and DEADLINE_EXCEEDED are retried with
// capped, jittered exponential backoff under an overall budget; upcoming micro-batches announced
// with Prefetch() are requested in the background so a step rarely waits on the network.
#pragma once

#include <memory>
#include <string>

#include "trainer/reference/reference_scorer.h"

namespace dpo {

struct RemoteReferenceOptions {
  std::string address;          // host:port
  std::string tls_ca_file;      // PEM roots; empty with no cert/key = plaintext
  std::string tls_cert_file;    // client certificate for mTLS (with tls_key_file)
  std::string tls_key_file;
  std::string auth_token_file;  // bearer token sent on every call (never logged)
  std::string expected_fingerprint;  // empty: accept the server's, then pin it for every call
  double call_timeout_seconds = 30;   // deadline of one RPC
  double retry_budget_seconds = 120;  // total time spent retrying one batch before giving up
  int prefetch_window = 2;            // micro-batches requested ahead
};

class RemoteReferenceScorer final : public ReferenceScorer {
 public:
  // Connects and asks GetModelInfo (retrying within the budget). Throws
  // Error(kReferenceUnavailable) when the server cannot be reached within the budget or its
  // fingerprint differs from options.expected_fingerprint (both named); Error(kInvalidInput)
  // when a TLS or token file cannot be read.
  explicit RemoteReferenceScorer(const RemoteReferenceOptions& options);
  ~RemoteReferenceScorer() override;

  at::Tensor Score(const SequenceBatch& batch) override;
  void Prefetch(const SequenceBatch& batch) override;
  std::string Fingerprint() const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dpo
