// Trainer: one rank of a DPO job. Loads data and models, resumes from the newest valid
// checkpoint, runs the steps (micro-batches -> reference -> policy -> loss -> backward ->
// gradient sync -> clip -> AdamW -> LR schedule), logs metrics, evaluates and checkpoints.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <vector>

#include "trainer/config/job_config.h"

namespace dpo {

class Communicator;
class ReferenceScorer;
class TrainingObserver;
struct StepReport;
class Watchdog;

// Makes the scorer of reference.mode=server (the gRPC client lives outside this library so that
// dpo_trainer builds without gRPC).
using RemoteReferenceFactory = std::function<std::unique_ptr<ReferenceScorer>(const ReferenceSection&)>;

// What the binary around the trainer provides; every member is optional. Pointed-to objects
// must outlive the trainer.
struct TrainerServices {
  // reference.mode=server; empty when built without gRPC (the mode is then refused clearly).
  RemoteReferenceFactory remote_reference;
  // Watches every reference fetch (the communicator watches its own collectives); the trainer
  // keeps its step current.
  Watchdog* watchdog = nullptr;
  // Told about data, steps and checkpoints (e.g. the Prometheus exporter).
  TrainingObserver* observer = nullptr;
};

class Trainer {
 public:
  // `communicator` must outlive the trainer.
  Trainer(JobConfig config, Communicator& communicator, TrainerServices services = {});
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
  // The pair indices of micro-batch `micro` of this rank's shard.
  std::vector<int64_t> MicroBatch(const std::vector<int64_t>& rank_shard, int64_t micro) const;
  // Asks a remote reference for this step's and the next step's micro-batches ahead of time.
  void PrefetchReference(const std::vector<int64_t>& shard);
  // The drift monitor and the observer see every step.
  void ObserveStep(const StepReport& report);
  void Evaluate();
  void SaveCheckpoint();
  void WriteFinalModel();

  JobConfig config_;
  Communicator& communicator_;
  TrainerServices services_;
  std::unique_ptr<State> state_;
};

}  // namespace dpo
