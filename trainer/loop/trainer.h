// Trainer: one rank of a DPO job. Loads data and models, resumes from the newest valid
// checkpoint, runs the steps (micro-batches -> reference -> policy -> loss -> backward ->
// gradient sync -> clip -> AdamW -> LR schedule), logs metrics, evaluates and checkpoints.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>

#include "trainer/config/job_config.h"

namespace dpo {

class Communicator;
class ReferenceScorer;

// Makes the scorer of reference.mode=server (the gRPC client lives outside this library so that
// dpo_trainer builds without gRPC).
using RemoteReferenceFactory = std::function<std::unique_ptr<ReferenceScorer>(const ReferenceSection&)>;

class Trainer {
 public:
  // `communicator` must outlive the trainer. `remote_reference` may be empty when the binary was
  // built without gRPC; reference.mode=server is then refused with a clear error.
  Trainer(JobConfig config, Communicator& communicator, RemoteReferenceFactory remote_reference = {});
  ~Trainer();

  // Validates config and data and writes the plan (steps, pairs kept and dropped, tokens,
  // model size) to `out` without training.
  void DryRun(std::ostream& out);

  // Trains until max_steps / epochs or a stop signal (then writes a checkpoint first).
  // Throws dpo::Error on failure; returns 0.
  int Run();

 private:
  struct State;
  void Setup(bool for_training);
  void TrainStep();
  void Evaluate();
  void SaveCheckpoint();
  void WriteFinalModel();

  JobConfig config_;
  Communicator& communicator_;
  RemoteReferenceFactory remote_reference_;
  std::unique_ptr<State> state_;
};

}  // namespace dpo
