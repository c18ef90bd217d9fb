// RemoteReferenceScorer: reference log-probs from a dpo-reference-server over gRPC. One channel
// for the whole run; a deadline on every call; UNAVAILABLE and DEADLINE_EXCEEDED are retried with
// capped, jittered exponential backoff under an overall budget; upcoming micro-batches announced
// with Prefetch() are requested in the background so a step rarely waits on the network. Its
// options (job/remote_reference_options.h) are the job file's reference section.
#pragma once

#include <memory>
#include <string>

#include "job/remote_reference_options.h"
#include "trainer/reference/reference_scorer.h"

namespace dpo {

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
