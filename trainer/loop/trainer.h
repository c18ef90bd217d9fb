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
class Watchdog;

// Makes the scorer of reference.mode=server (the gRPC client lives outside this library so that
// dpo_trainer builds without gRPC).
using RemoteReferenceFactory = std::function<std::unique_ptr<ReferenceScorer>(const ReferenceSection&)>;

class Trainer {
 public:
  // `communicator` (and `watchdog`, when given) must outlive the trainer. `remote_reference` may
  // be empty when the binary was built without gRPC; reference.mode=server is then refused with
  // a clear error. With a watchdog, every reference fetch is watched (the communicator watches
  // its own collectives) and the step it reports is kept current.
  Trainer(JobConfig config, Communicator& communicator, RemoteReferenceFactory remote_reference = {},
          Watchdog* watchdog = nullptr);
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
  void AgreeOnStart();
  void ResumeIfPossible();
  bool AgreeToStop();
  void TrainStep();
  void Evaluate();
  void SaveCheckpoint();
  void WriteFinalModel();

  JobConfig config_;
  Communicator& communicator_;
  RemoteReferenceFactory remote_reference_;
  Watchdog* watchdog_;
  std::unique_ptr<State> state_;
};

}  // namespace dpo
