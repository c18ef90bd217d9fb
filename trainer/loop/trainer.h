// Trainer: one rank of a DPO job. Loads data and models, resumes from the newest valid
// checkpoint, then loops: agree on a stop, run one TrainStep (train_step.h: gradients ->
// synchronise -> clip -> update), hand its report to the observers (metrics log, progress line,
// drift monitor, Prometheus), evaluate and checkpoint on schedule.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <vector>

#include "job/job_config.h"

namespace dpo {

class Communicator;
class ReferenceScorer;
struct StepResult;
class TrainingObserver;
class Watchdog;

// Makes the scorer of reference.mode=server (the gRPC client lives outside this library so that
// dpo_trainer builds without gRPC).
using RemoteReferenceFactory = std::function<std::unique_ptr<ReferenceScorer>(const RemoteReferenceOptions&)>;

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
  // The reference scorer the steps ask: local or remote, timed and watched, with the precomputed
  // table in front of it when asked for (null for a reference-free loss).
  void SetUpReference();
  // Micro-batch runner, AdamW, gradient sync, LR schedule and the TrainStep over them.
  void SetUpStep();
  // The metrics log, progress line and drift monitor, and the list of observers (rank 0 writes).
  void SetUpReporting();
  // Hashes the data files (kept for checkpoints), then, with several ranks, checks that every
  // rank has rank 0's job and data and takes rank 0's initial weights.
  void AgreeOnStart();
  void ResumeIfPossible();
  // Collective: true when any rank received a stop signal.
  bool AgreeToStop();
  // Runs step `trainer_state.step` and, unless it failed, records it (RecordStep).
  StepResult TrainOneStep();
  // Skip accounting, the sampler and trainer state after a step, and its report to the observers.
  void RecordStep(const StepResult& result, double step_seconds);
  // Asks a remote reference for this step's and the next step's micro-batches ahead of time.
  void PrefetchReference(const std::vector<int64_t>& shard);
  // Rank 0: the highest tensor-memory peak of the steps, beside the memory model's total.
  void ReportStepMemory();
  // Rank 0: whether writing metrics.jsonl failed during the run, and what is still unwritten.
  void ReportMetricsLog();
  void Evaluate();
  void SaveCheckpoint();
  void WriteFinalModel();

  JobConfig config_;
  Communicator& communicator_;
  TrainerServices services_;
  std::unique_ptr<State> state_;
};

}  // namespace dpo
