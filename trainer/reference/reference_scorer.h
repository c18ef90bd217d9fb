// ReferenceScorer: where the trainer gets reference log-probs. LocalReferenceScorer holds a
// frozen model in process; the remote gRPC scorer (reference server) implements the same
// interface. Both return per-sequence sums over completion tokens computed by the shared
// core function, so they agree to float precision.
#pragma once

#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "core/data/batch.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/fingerprint.h"  // ModelFingerprint, used with every scorer

namespace dpo {

class CausalLm;

class ReferenceScorer {
 public:
  virtual ~ReferenceScorer() = default;
  // (N, T) batch -> (N,) float32 reference log-prob sums over each sequence's completion, in
  // batch order, without gradient. Throws Error(kReferenceUnavailable) when it cannot answer.
  virtual at::Tensor Score(const SequenceBatch& batch) = 0;
  // A hint that `batch` will be scored soon: a remote scorer starts fetching it now. Optional.
  virtual void Prefetch(const SequenceBatch& batch) { (void)batch; }
  // A content fingerprint of the reference model, recorded in checkpoints.
  virtual std::string Fingerprint() const = 0;
};

// Thread safety: one caller at a time (the training loop).
class LocalReferenceScorer final : public ReferenceScorer {
 public:
  LocalReferenceScorer(std::shared_ptr<CausalLm> model, std::string fingerprint, LogProbOptions options);
  at::Tensor Score(const SequenceBatch& batch) override;
  std::string Fingerprint() const override { return fingerprint_; }

 private:
  std::shared_ptr<CausalLm> model_;
  std::string fingerprint_;
  LogProbOptions options_;
  c10::Device device_;  // the model's, at construction
};

}  // namespace dpo
