// The training loop. Every rank runs this code; rank 0 alone writes files.
#include "trainer/loop/trainer.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/common/tensor_memory.h"
#include "core/data/pair_sampler.h"
#include "core/data/preference_reader.h"
#include "core/model/eval_mode_guard.h"
#include "core/model/pretrained.h"
#include "core/optim/lr_schedule.h"
#include "core/tokenizer/tokenizer_files.h"
#include "trainer/checkpoint/checkpoint_manager.h"
#include "trainer/checkpoint/collective_save.h"
#include "trainer/checkpoint/output_directory.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/watchdog.h"
#include "trainer/loop/drift_monitor.h"
#include "trainer/loop/memory_plan.h"
#include "trainer/loop/metrics_log.h"
#include "trainer/loop/metrics_reporter.h"
#include "trainer/loop/model_setup.h"
#include "trainer/loop/rank_agreement.h"
#include "trainer/loop/stop_signal.h"
#include "trainer/loop/train_step.h"
#include "trainer/loop/training_observer.h"
#include "trainer/reference/observed_reference_scorer.h"
#include "trainer/reference/precomputed_reference_scorer.h"
#include "trainer/reference/reference_scorer.h"
#include "trainer/zero/data_parallel_optimizer.h"

namespace dpo {
namespace {

// `report`: write rejects.jsonl and the summary line (rank 0 of a training run).
PreferenceDataset LoadData(const std::string& path, const Tokenizer& tokenizer, const DataOptions& options,
                           const std::string& rejects_path, bool report) {
  PreferenceDataset dataset = LoadPreferenceData(path, tokenizer, options);
  if (report) WriteRejects(rejects_path, dataset);  // also when empty: no earlier run's list stays
  if (!dataset.rejected.empty() && report) {
    std::cerr << path << ": " << dataset.rejected.size() << " of " << dataset.rows_read
              << " rows skipped or dropped (";
    bool first = true;
    for (const auto& [reason, count] : dataset.dropped_by_reason) {
      if (count == 0) continue;
      std::cerr << (first ? "" : ", ") << reason << ": " << count;
      first = false;
    }
    std::cerr << "); each is listed in " << rejects_path << "\n";
  }
  return dataset;
}

// The tensors that define a model's state: parameters (detached views) and buffers.
std::vector<at::Tensor> StateTensors(torch::nn::Module& module) {
  std::vector<at::Tensor> tensors;
  for (const auto& parameter : module.parameters()) tensors.push_back(parameter.detach());
  for (const auto& buffer : module.buffers()) tensors.push_back(buffer);
  return tensors;
}

}  // namespace

struct Trainer::State {
  TrainingModels models;
  PreferenceDataset train;
  std::optional<PreferenceDataset> eval;
  std::unique_ptr<DpoLoss> loss;
  // Reference log-probs: the local or remote scorer, timed and watched; with
  // reference.precompute, a table in front of it. `reference` is the one the steps ask (null for
  // a reference-free loss).
  std::unique_ptr<ObservedReferenceScorer> observed_reference;
  std::unique_ptr<PrecomputedReferenceScorer> precomputed_reference;
  ReferenceScorer* reference = nullptr;
  std::unique_ptr<PreferenceStep> micro_batches;
  std::unique_ptr<DataParallelOptimizer> optimizer;  // gradient sync, clipping, AdamW
  std::unique_ptr<PairSampler> sampler;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<TrainStep> step;
  std::unique_ptr<CheckpointManager> checkpoints;
  // Reporting: observers of every step and evaluation, in this order.
  std::unique_ptr<MetricsLog> metrics_log;  // rank 0
  std::unique_ptr<ProgressLine> progress;
  std::unique_ptr<MetricsReporter> reporter;
  std::unique_ptr<DriftMonitor> drift;
  std::vector<TrainingObserver*> observers;
  std::string reference_fingerprint;
  int64_t total_steps = 0;
  // SHA-256 of the data files, recorded in checkpoints: {"train": hex[, "eval": hex]}.
  nlohmann::json data_sha256;
  TrainerState trainer_state;
  int64_t last_saved_step = -1;
  c10::Device device = c10::Device(c10::kCPU);
  TrainingMemoryInput memory;  // the memory model's view of this job on this rank
  int64_t step_peak_bytes = 0;  // tensor memory: the highest peak of one training step so far
};

Trainer::Trainer(JobConfig config, Communicator& communicator, TrainerServices services)
    : config_(std::move(config)), communicator_(communicator), services_(std::move(services)) {}

Trainer::~Trainer() = default;

void Trainer::Setup(bool for_training) {
  state_ = std::make_unique<State>();
  State& s = *state_;
  const bool writer = communicator_.rank() == 0;
  if (config_.training.threads > 0) torch::set_num_threads(static_cast<int>(config_.training.threads));
  if (writer && for_training) PrepareOutputDirectory(config_.output);

  s.loss = std::make_unique<DpoLoss>(config_.training.loss);
  const bool remote = config_.reference.mode == ReferenceMode::kServer;
  s.models = BuildTrainingModels(config_, s.loss->needs_reference() && !remote);
  if (for_training) {
    s.device = TrainingDevice(config_.training, communicator_.local_rank());
    s.models.policy->module().to(s.device);
    if (s.models.reference) s.models.reference->module().to(s.device);
  }
  const Tokenizer& tokenizer = *s.models.tokenizer;
  s.train = LoadData(config_.data_train, tokenizer, config_.data, config_.output.dir + "/rejects.jsonl", writer && for_training);
  if (!config_.data_eval.empty()) {
    s.eval = LoadData(config_.data_eval, tokenizer, config_.data, config_.output.dir + "/eval_rejects.jsonl",
                      writer && for_training);
  }
  const TrainingSection& t = config_.training;
  const int64_t global_batch = t.per_device_batch_size * t.gradient_accumulation_steps * communicator_.world_size();
  s.sampler = std::make_unique<PairSampler>(static_cast<int64_t>(s.train.pairs.size()), global_batch, t.seed,
                                            communicator_.rank(), communicator_.world_size());
  s.total_steps = t.max_steps > 0 ? t.max_steps : t.epochs * s.sampler->StepsPerEpoch();
  s.memory = JobMemoryInput(config_, s.models.policy->config(), communicator_.world_size(),
                            s.models.policy->module().parameters(), s.train.pairs, s.models.reference != nullptr,
                            s.models.reference != nullptr && !config_.reference.precompute);
  if (!for_training) return;
  AgreeOnStart();

  SetUpReference();
  SetUpStep();
  s.checkpoints = std::make_unique<CheckpointManager>(config_.output.dir, static_cast<int>(config_.output.save_total_limit));
  s.checkpoints->set_max_shard_bytes(config_.output.max_shard_size_mb * 1'000'000);

  s.trainer_state.config_hash = config_.TrainingHash();
  s.trainer_state.reference_fingerprint = s.reference_fingerprint;
  s.trainer_state.world_size = communicator_.world_size();
  s.trainer_state.extra["global_batch_size"] = global_batch;
  s.trainer_state.extra["data_sha256"] = s.data_sha256;
  ResumeIfPossible();
  if (communicator_.world_size() > 1) {
    CheckRanksAgree(communicator_,
                    "weights:\n  policy: " + ModelFingerprint(*s.models.policy, tokenizer.Name()) +
                        "\n  reference: " + s.reference_fingerprint + "\n  step: " + std::to_string(s.trainer_state.step) + "\n",
                    "the weights");
  }
  SetUpReporting();
  for (TrainingObserver* observer : s.observers) observer->OnDataLoaded(s.train.dropped_by_reason);
  s.models.policy->module().train();
}

void Trainer::SetUpReference() {
  State& s = *state_;
  const TrainingSection& t = config_.training;
  const Tokenizer& tokenizer = *s.models.tokenizer;
  const LogProbOptions& log_prob_options = config_.model.log_probs;
  const bool bf16 = t.mixed_precision == MixedPrecision::kBf16;
  if (s.loss->needs_reference()) {
    std::unique_ptr<ReferenceScorer> scorer;
    if (config_.reference.mode == ReferenceMode::kServer) {
      if (!services_.remote_reference) {
        throw InvalidInput("reference.mode=server: this dpo-train was built without gRPC (DPO_WITH_GRPC=OFF)");
      }
      RemoteReferenceOptions remote = config_.reference.server;
      remote.required_sequence_tokens = config_.data.max_length;
      scorer = services_.remote_reference(remote);
    } else {
      scorer = std::make_unique<LocalReferenceScorer>(
          s.models.reference, ModelFingerprint(*s.models.reference, tokenizer.Name()), log_prob_options);
    }
    s.observed_reference = std::make_unique<ObservedReferenceScorer>(std::move(scorer), services_.watchdog);
    s.reference = s.observed_reference.get();
    s.reference_fingerprint = s.reference->Fingerprint();
  }
  if (s.reference != nullptr && config_.reference.precompute) {
    const Clock::time_point started = Clock::now();
    s.precomputed_reference = std::make_unique<PrecomputedReferenceScorer>(
        *s.observed_reference, s.train.pairs, t.per_device_batch_size, tokenizer.PadId(), bf16);
    s.reference = s.precomputed_reference.get();
    if (communicator_.rank() == 0) {
      std::cerr << "reference log-probs precomputed for " << s.train.pairs.size() << " pairs in "
                << SecondsSince(started) << " s\n";
    }
  }
  s.micro_batches =
      std::make_unique<PreferenceStep>(*s.models.policy, s.reference, *s.loss, tokenizer.PadId(), log_prob_options, bf16);
}

void Trainer::SetUpStep() {
  State& s = *state_;
  const TrainingSection& t = config_.training;
  DataParallelOptions data_parallel;
  data_parallel.zero_stage = static_cast<int>(config_.distributed.zero_stage);
  data_parallel.bucket_bytes = static_cast<int64_t>(config_.distributed.bucket_mb * 1024 * 1024);
  data_parallel.overlap = config_.distributed.overlap;
  data_parallel.learning_rate = t.learning_rate;
  data_parallel.beta1 = t.adam_beta1;
  data_parallel.beta2 = t.adam_beta2;
  data_parallel.eps = t.adam_epsilon;
  data_parallel.weight_decay = t.weight_decay;
  s.optimizer = MakeDataParallelOptimizer(communicator_, s.models.policy->module().parameters(), data_parallel);
  if (communicator_.rank() == 0) {
    std::cerr << "optimizer: AdamW, distributed.zero_stage " << data_parallel.zero_stage << "; rank 0 holds "
              << s.optimizer->StateBytes() << " bytes of AdamW state and " << s.optimizer->GradientBytes()
              << " bytes of gradients\n";
  }
  s.schedule = std::make_unique<LrSchedule>(t.lr_scheduler, t.learning_rate, t.warmup_steps,
                                            s.total_steps);
  TrainStepParts parts;
  parts.micro_batches = s.micro_batches.get();
  parts.pairs = &s.train.pairs;
  parts.optimizer = s.optimizer.get();
  parts.schedule = s.schedule.get();
  parts.communicator = &communicator_;
  parts.micro_batch_size = t.per_device_batch_size;
  parts.accumulation_steps = t.gradient_accumulation_steps;
  parts.max_grad_norm = t.max_grad_norm;
  s.step = std::make_unique<TrainStep>(std::move(parts));
}

void Trainer::SetUpReporting() {
  State& s = *state_;
  const bool writer = communicator_.rank() == 0;
  if (writer) s.metrics_log = std::make_unique<MetricsLog>(config_.output.dir + "/metrics.jsonl", s.last_saved_step);
  s.progress = std::make_unique<ProgressLine>(writer ? config_.metrics.progress : ProgressMode::kNever);
  MetricsReporterOptions reporting;
  reporting.logging_steps = config_.training.logging_steps;
  reporting.beta = config_.training.loss.beta;
  reporting.world_size = communicator_.world_size();
  s.reporter = std::make_unique<MetricsReporter>(reporting, s.metrics_log.get(), *s.progress);
  DriftMonitor::WarningSink print_on_rank0;
  if (writer) {
    print_on_rank0 = [progress = s.progress.get()](const std::string& warning) {
      progress->Finish();
      std::cerr << warning << "\n";
    };
  }
  s.drift = std::make_unique<DriftMonitor>(config_.metrics.drift_warning_nats, print_on_rank0);
  s.observers = {s.reporter.get(), s.drift.get()};
  if (services_.observer != nullptr) s.observers.push_back(services_.observer);
}

void Trainer::AgreeOnStart() {
  State& s = *state_;
  s.data_sha256 = {{"train", Sha256FileHex(config_.data_train)}};
  if (!config_.data_eval.empty()) s.data_sha256["eval"] = Sha256FileHex(config_.data_eval);
  if (communicator_.world_size() == 1) return;
  std::string description = config_.ToYaml() + "data_files:\n  train: " + s.data_sha256["train"].get<std::string>() + "\n";
  if (!config_.data_eval.empty()) description += "  eval: " + s.data_sha256["eval"].get<std::string>() + "\n";
  CheckRanksAgree(communicator_, description, "the job");
  // Every rank starts from rank 0's initial weights (checked again after a resume).
  std::vector<at::Tensor> tensors = StateTensors(state_->models.policy->module());
  communicator_.Broadcast(tensors, 0);
}

void Trainer::ResumeIfPossible() {
  State& s = *state_;
  // Rank 0 chooses the checkpoint (falling back past damaged ones); every rank loads that one.
  std::string checkpoint;
  if (communicator_.rank() == 0) {
    if (const auto found = s.checkpoints->FindResumeCheckpoint(config_.output.resume)) checkpoint = *found;
  }
  communicator_.Broadcast(checkpoint, 0);
  if (checkpoint.empty()) return;

  const TrainerState restored = s.checkpoints->Load(checkpoint, *s.models.policy);
  s.optimizer->ReadState(checkpoint, restored.optimizer_files);
  if (restored.config_hash != s.trainer_state.config_hash) {
    throw InvalidInput(checkpoint + " was written by a job with other training settings (config hash " +
                       restored.config_hash + ", this job " + s.trainer_state.config_hash +
                       "); restore the job file, or set output.resume=never and output.overwrite=true to start over");
  }
  if (restored.reference_fingerprint != s.reference_fingerprint) {
    // A setting to correct, not an outage to retry: exit 2.
    throw InvalidInput(checkpoint + " was trained against the reference model with fingerprint " +
                       restored.reference_fingerprint + ", but the reference now has fingerprint " +
                       s.reference_fingerprint + "; point reference.model or reference.address at the original");
  }
  // Checkpoints from before data digests were recorded carry none: nothing to compare.
  const nlohmann::json recorded = restored.extra.value("data_sha256", nlohmann::json::object());
  if (recorded.contains("train") && recorded["train"] != s.data_sha256["train"] && !config_.output.resume_with_changed_data) {
    throw InvalidInput("data.train=" + config_.data_train + " changed since " + checkpoint + " was written (SHA-256 " +
                       recorded["train"].get<std::string>() + ", now " + s.data_sha256["train"].get<std::string>() +
                       "): the resumed run would see other pairs at the same steps; restore the file, or set "
                       "output.resume_with_changed_data=true to continue anyway");
  }
  // The sampler's order depends on the global batch only; ranks take slices of it. So another
  // world size re-shards exactly when the global batch is unchanged.
  const int64_t global_batch = s.sampler->global_batch_size();
  const int64_t restored_global = restored.extra.value("global_batch_size", int64_t{-1});
  const TrainingSection& t = config_.training;
  if (restored_global != global_batch) {
    throw InvalidInput(checkpoint + " was written with world_size=" + std::to_string(restored.world_size) +
                       " and a global batch of " + std::to_string(restored_global) + " pairs; this job has world_size=" +
                       std::to_string(communicator_.world_size()) + " and a global batch of " +
                       std::to_string(global_batch) + " (per_device_batch_size " + std::to_string(t.per_device_batch_size) +
                       " x gradient_accumulation_steps " + std::to_string(t.gradient_accumulation_steps) + " x " +
                       std::to_string(communicator_.world_size()) +
                       " ranks). The sampler re-shards exactly only for the same global batch: choose "
                       "per_device_batch_size x gradient_accumulation_steps x world_size = " +
                       std::to_string(restored_global));
  }
  if (restored.world_size != communicator_.world_size() && communicator_.rank() == 0) {
    std::cerr << "re-sharding " << checkpoint << " exactly from world_size=" << restored.world_size << " to "
              << communicator_.world_size() << " (same global batch of " << global_batch << " pairs)\n";
  }
  s.trainer_state = restored;
  s.trainer_state.world_size = communicator_.world_size();
  s.sampler->Restore(restored.sampler);
  RestoreTorchRngState(restored.torch_rng_state);
  s.last_saved_step = restored.step;
  if (communicator_.rank() == 0) std::cerr << "resumed from " << checkpoint << " at step " << restored.step << "\n";
}

bool Trainer::AgreeToStop() {
  std::vector<double> requested{StopRequested() != 0 ? 1.0 : 0.0};
  communicator_.AllReduceSum(requested);
  return requested[0] > 0;
}

void Trainer::DryRun(std::ostream& out) {
  Setup(/*for_training=*/false);
  const State& s = *state_;
  const TrainingSection& t = config_.training;
  out << "plan:\n"
      << "  data.train: " << config_.data_train << ": " << s.train.rows_read << " rows, " << s.train.pairs.size()
      << " pairs kept, " << s.train.rejected.size() << " dropped\n";
  for (const auto& [reason, count] : s.train.dropped_by_reason) out << "    dropped (" << reason << "): " << count << "\n";
  out << "    tokens: " << s.train.prompt_tokens << " prompt, " << s.train.completion_tokens << " completion\n";
  if (s.eval) out << "  data.eval: " << s.eval->pairs.size() << " pairs kept, " << s.eval->rejected.size() << " dropped\n";
  out << "  model: " << s.models.policy->config().model_type << ", " << s.models.policy->config().NumParameters()
      << " parameters, tokenizer " << s.models.tokenizer->Name() << "\n"
      << "  reference: " << (s.loss->needs_reference() ? JobEnumName(config_.reference.mode) : "none (reference-free loss)")
      << "\n"
      << "  ranks: " << communicator_.world_size() << ", global batch "
      << t.per_device_batch_size * t.gradient_accumulation_steps * communicator_.world_size() << " pairs ("
      << t.per_device_batch_size << " per micro-batch x " << t.gradient_accumulation_steps << " accumulation x "
      << communicator_.world_size() << " ranks)\n"
      << "  steps: " << s.total_steps << " (" << s.sampler->StepsPerEpoch() << " per epoch)\n";
  PrintMemoryPlan(out, s.memory);
}

int Trainer::Run() {
  InstallStopSignalHandlers();
  Setup(/*for_training=*/true);
  State& s = *state_;
  while (s.trainer_state.step < s.total_steps) {
    if (AgreeToStop()) {
      s.progress->Finish();
      if (s.last_saved_step != s.trainer_state.step) SaveCheckpoint();
      if (communicator_.rank() == 0) {
        const int signal_number = StopRequested();
        std::cerr << "stopped by " << (signal_number != 0 ? "signal " + std::to_string(signal_number) : "a signal to another rank")
                  << " at step " << s.trainer_state.step << "; checkpoint written, resume with output.resume=auto\n";
      }
      return 0;
    }
    const StepResult result = TrainOneStep();
    if (result.reference_failure) {
      // The failed step was not applied: keep the work done so far, then stop (exit 3).
      s.progress->Finish();
      if (s.last_saved_step != s.trainer_state.step) SaveCheckpoint();
      throw *result.reference_failure;
    }
    const int64_t step = s.trainer_state.step;
    if (config_.training.eval_steps > 0 && s.eval && step % config_.training.eval_steps == 0) Evaluate();
    if (config_.output.save_steps > 0 && step % config_.output.save_steps == 0 && step < s.total_steps) SaveCheckpoint();
  }
  s.progress->Finish();
  ReportStepMemory();
  ReportMetricsLog();
  if (s.eval && (config_.training.eval_steps == 0 || s.total_steps % config_.training.eval_steps != 0)) Evaluate();
  if (s.last_saved_step != s.trainer_state.step) SaveCheckpoint();
  WriteFinalModel();
  return 0;
}

StepResult Trainer::TrainOneStep() {
  State& s = *state_;
  const int64_t step = s.trainer_state.step;
  const Clock::time_point started = Clock::now();
  if (services_.watchdog != nullptr) services_.watchdog->SetStep(step + 1);
  const std::vector<int64_t> shard = s.sampler->RankShard();
  if (config_.reference.mode == ReferenceMode::kServer) PrefetchReference(shard);
  ResetTensorMemoryPeak(s.device);
  StepResult result = s.step->Run(step, s.sampler->GlobalBatch(), shard);
  s.step_peak_bytes = std::max(s.step_peak_bytes, MeasureTensorMemory(s.device).peak_bytes);
  if (!result.reference_failure) RecordStep(result, SecondsSince(started));
  return result;
}

void Trainer::RecordStep(const StepResult& result, double step_seconds) {
  State& s = *state_;
  const TrainingSection& t = config_.training;
  TrainerState& state = s.trainer_state;
  const int64_t step_number = state.step + 1;
  const double loss = result.totals.loss;
  if (result.applied) {
    state.consecutive_skipped_steps = 0;
  } else {
    ++state.skipped_steps;
    ++state.consecutive_skipped_steps;
    std::cerr << "step " << step_number << ": non-finite " << (std::isfinite(loss) ? "gradient" : "loss") << " (loss "
              << loss << ", grad_norm " << result.grad_norm << "); update skipped\n";
    if (state.consecutive_skipped_steps >= t.max_consecutive_skipped_steps) {
      throw InvalidInput("training stopped at step " + std::to_string(step_number) + ": " +
                         std::to_string(state.consecutive_skipped_steps) +
                         " consecutive steps had a non-finite loss or gradient (training.max_consecutive_skipped_steps=" +
                         std::to_string(t.max_consecutive_skipped_steps) + "); lower training.learning_rate or check the data");
    }
  }
  s.sampler->Advance();
  state.step = step_number;
  state.sampler = s.sampler->State();
  state.tokens_seen += result.totals.tokens;
  state.pairs_seen += s.sampler->global_batch_size();

  StepReport report;
  report.step = step_number;
  report.total_steps = s.total_steps;
  report.epoch = static_cast<double>(step_number) / static_cast<double>(s.sampler->StepsPerEpoch());
  report.loss = loss;
  report.metric_sums = result.totals.metrics;
  report.means = result.totals.metrics.Means();
  report.grad_norm = result.grad_norm;
  report.learning_rate = result.learning_rate;
  report.tokens = result.totals.tokens;
  report.pairs = s.sampler->global_batch_size();
  report.skipped = !result.applied;
  if (!result.applied) report.skip_reason = std::isfinite(loss) ? "nonfinite_gradient" : "nonfinite_loss";
  report.step_seconds = step_seconds;
  report.reference_wait_seconds = s.observed_reference != nullptr ? s.observed_reference->TakeWaitSeconds() : 0.0;
  report.allreduce_seconds = result.grad_sync_seconds;
  report.tokens_seen = state.tokens_seen;
  report.skipped_steps = state.skipped_steps;
  for (TrainingObserver* observer : s.observers) observer->OnStep(report);
}

void Trainer::ReportMetricsLog() {
  MetricsLog* log = state_->metrics_log.get();
  if (log == nullptr || log->failed_writes() == 0) return;
  log->Flush();
  std::cerr << config_.output.dir << "/metrics.jsonl: " << log->failed_writes() << " write(s) failed during the run; "
            << log->held_records() << " record(s) still unwritten, " << log->dropped_records()
            << " dropped (more than " << MetricsLog::kMaxHeldRecords << " held)\n";
}

void Trainer::ReportStepMemory() {
  const State& s = *state_;
  if (communicator_.rank() != 0 || !MeasureTensorMemory(s.device).measured) return;
  const int64_t modelled = EstimateTrainingMemory(s.memory).Total();
  std::cerr << "tensor memory at the training steps' peak, rank 0: " << FormatBytes(s.step_peak_bytes) << " ("
            << s.step_peak_bytes << " bytes) measured, " << FormatBytes(modelled) << " (" << modelled
            << " bytes) modelled\n";
}

void Trainer::PrefetchReference(const std::vector<int64_t>& shard) {
  State& s = *state_;
  const int64_t prefetch = config_.reference.server.prefetch_window;
  if (prefetch <= 0) return;
  // This step's and the next step's micro-batches, in the order they will be scored.
  PairSampler next = *s.sampler;
  next.Advance();
  const std::vector<int64_t> next_shard = next.RankShard();
  int64_t announced = 0;
  for (const auto* source : {&shard, &next_shard}) {
    for (int64_t micro = 0; micro < config_.training.gradient_accumulation_steps && announced < prefetch;
         ++micro, ++announced) {
      s.micro_batches->Prefetch(s.train.pairs, s.step->MicroBatch(*source, micro));
    }
  }
}

void Trainer::Evaluate() {
  State& s = *state_;
  const auto& pairs = s.eval->pairs;
  const int64_t n = static_cast<int64_t>(pairs.size());
  if (n == 0) return;
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  const LossNormalizer normalizer = PreferenceStep::NormalizerFor(pairs, all);
  StepTotals totals;
  {
    EvalModeGuard eval_mode(s.models.policy->module());
    torch::NoGradGuard no_grad;
    const int64_t batch = config_.training.per_device_batch_size;
    const int64_t world = communicator_.world_size();
    // Rank r scores batches r, r + world, ...; the sums are then reduced.
    for (int64_t start = communicator_.rank() * batch; start < n; start += batch * world) {
      const std::vector<int64_t> indices(all.begin() + start, all.begin() + std::min(n, start + batch));
      s.micro_batches->Run(pairs, indices, normalizer, /*backward=*/false, totals);
    }
  }
  ReduceTotals(communicator_, totals);
  EvalReport report;
  report.step = s.trainer_state.step;
  report.loss = totals.loss;
  report.means = totals.metrics.Means();
  for (TrainingObserver* observer : s.observers) observer->OnEvaluation(report);
}

void Trainer::SaveCheckpoint() {
  State& s = *state_;
  if (communicator_.rank() == 0) {
    // Every rank's cursor: the shared global position and the slice of the global batch it takes.
    nlohmann::json rank_samplers = nlohmann::json::array();
    const int64_t per_rank = s.sampler->per_rank_batch_size();
    for (int rank = 0; rank < communicator_.world_size(); ++rank) {
      rank_samplers.push_back({{"rank", rank},
                               {"epoch", s.trainer_state.sampler.epoch},
                               {"step_in_epoch", s.trainer_state.sampler.step_in_epoch},
                               {"global_batch_positions", {rank * per_rank, (rank + 1) * per_rank}}});
    }
    s.trainer_state.extra["rank_samplers"] = rank_samplers;
    s.trainer_state.torch_rng_state = CaptureTorchRngState();
  }
  // Every rank writes its share of the optimizer state; rank 0 commits the checkpoint.
  const std::string directory = SaveOnEveryRank(
      communicator_, config_.output.dir, s.trainer_state.step,
      [&](const std::string& dir) { return s.optimizer->WriteState(dir); },
      [&](const std::vector<CheckpointManager::StagedFile>& files) {
        return s.checkpoints->Save(s.trainer_state.step, *s.models.policy, *s.models.tokenizer, files, s.trainer_state,
                                   config_.ToYaml());
      });
  if (communicator_.rank() == 0) {
    std::cerr << "checkpoint " << directory << "\n";
    for (TrainingObserver* observer : s.observers) observer->OnCheckpoint(s.trainer_state.step);
  }
  s.last_saved_step = s.trainer_state.step;
}

void Trainer::WriteFinalModel() {
  if (communicator_.rank() != 0) return;
  const std::filesystem::path final_dir = std::filesystem::path(config_.output.dir) / "final";
  const std::filesystem::path temp_dir = std::filesystem::path(config_.output.dir) / ".tmp-final";
  std::filesystem::remove_all(temp_dir);
  ModelSaveOptions save;
  // auto: the dtype model.init was stored in (the policy's config keeps its torch_dtype).
  const std::string& dtype = config_.output.save_dtype;
  save.dtype = SaveDtypeFor(dtype == "auto" ? state_->models.policy->config().torch_dtype : dtype);
  save.max_shard_bytes = config_.output.max_shard_size_mb * 1'000'000;
  SaveModelDirectory(*state_->models.policy, temp_dir.string(), save);
  SaveTokenizerFiles(*state_->models.tokenizer, temp_dir.string());
  std::filesystem::remove_all(final_dir);
  std::filesystem::rename(temp_dir, final_dir);
  std::cerr << "final model: " << final_dir.string() << "\n";
}

}  // namespace dpo
