// The training loop. Every rank runs this code; rank 0 alone writes files.
#include "trainer/loop/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/data/pair_sampler.h"
#include "core/data/preference_reader.h"
#include "core/model/eval_mode_guard.h"
#include "core/model/pretrained.h"
#include "core/optim/fused_adamw.h"
#include "core/tokenizer/tokenizer_files.h"
#include "trainer/checkpoint/checkpoint_manager.h"
#include "trainer/checkpoint/fault_injection.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_sync.h"
#include "trainer/comm/watchdog.h"
#include "trainer/loop/lr_schedule.h"
#include "trainer/loop/metrics_log.h"
#include "trainer/loop/model_setup.h"
#include "trainer/loop/preference_step.h"
#include "trainer/loop/drift_monitor.h"
#include "trainer/loop/rank_agreement.h"
#include "trainer/loop/training_observer.h"
#include "trainer/loop/stop_signal.h"
#include "trainer/reference/reference_scorer.h"
#include "trainer/reference/observed_reference_scorer.h"

namespace dpo {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// `report`: write rejects.jsonl and the summary line (rank 0 of a training run).
PreferenceDataset LoadData(const std::string& path, const Tokenizer& tokenizer, const DataOptions& options,
                           const std::string& rejects_path, bool report) {
  PreferenceDataset dataset = LoadPreferenceData(path, tokenizer, options);
  if (!dataset.rejected.empty() && report) {
    WriteRejects(rejects_path, dataset);
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

// Sums `totals` (loss, pair metrics, tokens) over every rank, in place.
void ReduceTotals(Communicator& communicator, StepTotals& totals) {
  std::vector<double> sums = totals.metrics.Pack();
  sums.push_back(totals.loss);
  sums.push_back(static_cast<double>(totals.tokens));
  communicator.AllReduceSum(sums);
  totals.tokens = static_cast<int64_t>(sums.back());
  sums.pop_back();
  totals.loss = sums.back();
  sums.pop_back();
  totals.metrics = PairMetricSums::Unpack(sums);
}

// Metric sums of the steps since the last log line.
struct LogInterval {
  int64_t steps = 0;
  double loss = 0;
  PairMetricSums metrics;
  int64_t tokens = 0;
  int64_t pairs = 0;
  double grad_sync_seconds = 0;  // time in the gradient all-reduce
  Clock::time_point started = Clock::now();
};

// Zeroes gradients in place (unlike Optimizer::zero_grad in LibTorch 2.x, which frees them and
// would drop the bucket views of AssignBucketViewGradients).
void ZeroGradients(const std::vector<at::Tensor>& parameters) {
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined()) parameter.grad().zero_();
  }
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
  std::unique_ptr<ReferenceScorer> reference;
  ObservedReferenceScorer* observed_reference = nullptr;  // `reference`, timed
  std::optional<PrecomputedReference> precomputed;
  std::unique_ptr<PreferenceStep> step_runner;
  std::unique_ptr<FusedAdamW> optimizer;
  std::unique_ptr<GradientSync> gradient_sync;  // world size > 1
  std::unique_ptr<PairSampler> sampler;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<CheckpointManager> checkpoints;
  std::unique_ptr<MetricsLog> metrics_log;
  std::unique_ptr<ProgressLine> progress;
  std::string reference_fingerprint;
  int64_t total_steps = 0;
  TrainerState trainer_state;
  int64_t last_saved_step = -1;
  LogInterval interval;
  std::unique_ptr<DriftMonitor> drift;
  Clock::time_point run_started = Clock::now();
  int64_t steps_this_run = 0;
};

Trainer::Trainer(JobConfig config, Communicator& communicator, TrainerServices services)
    : config_(std::move(config)), communicator_(communicator), services_(std::move(services)) {}

Trainer::~Trainer() = default;

void Trainer::Setup(bool for_training) {
  state_ = std::make_unique<State>();
  State& s = *state_;
  const bool writer = communicator_.rank() == 0;
  if (config_.training.threads > 0) torch::set_num_threads(static_cast<int>(config_.training.threads));
  if (writer && for_training) std::filesystem::create_directories(config_.output.dir);

  s.loss = std::make_unique<DpoLoss>(config_.training.loss);
  const bool remote = config_.reference.mode == "server";
  s.models = BuildTrainingModels(config_, s.loss->needs_reference() && !remote);
  if (for_training) {
    const c10::Device device = TrainingDevice(config_.training, communicator_.local_rank());
    s.models.policy->module().to(device);
    if (s.models.reference) s.models.reference->module().to(device);
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
  if (!for_training) return;
  AgreeOnStart();

  const LogProbOptions log_prob_options{config_.model.log_prob_chunk_tokens};
  if (s.loss->needs_reference()) {
    if (remote) {
      if (!services_.remote_reference) {
        throw InvalidInput("reference.mode=server: this dpo-train was built without gRPC (DPO_WITH_GRPC=OFF)");
      }
      s.reference = services_.remote_reference(config_.reference);
    } else {
      s.reference = std::make_unique<LocalReferenceScorer>(
          s.models.reference, ModelFingerprint(*s.models.reference, tokenizer.Name()), log_prob_options);
    }
    auto observed = std::make_unique<ObservedReferenceScorer>(std::move(s.reference), services_.watchdog);
    s.observed_reference = observed.get();
    s.reference = std::move(observed);
    s.reference_fingerprint = s.reference->Fingerprint();
  }
  s.step_runner = std::make_unique<PreferenceStep>(*s.models.policy, s.reference.get(), *s.loss, tokenizer.PadId(),
                                                   log_prob_options, t.mixed_precision == "bf16");
  if (s.reference && config_.reference.precompute) {
    const auto started = Clock::now();
    s.precomputed = s.step_runner->PrecomputeReference(s.train.pairs, t.per_device_batch_size);
    if (writer) {
      std::cerr << "reference log-probs precomputed for " << s.train.pairs.size() << " pairs in " << Seconds(started)
                << " s\n";
    }
  }
  s.optimizer = std::make_unique<FusedAdamW>(
      s.models.policy->module().parameters(),
      torch::optim::AdamWOptions(t.learning_rate)
          .betas({t.adam_beta1, t.adam_beta2})
          .eps(t.adam_epsilon)
          .weight_decay(t.weight_decay));
  if (communicator_.world_size() > 1) {
    s.gradient_sync = std::make_unique<GradientSync>(communicator_, s.models.policy->module().parameters(),
                                                     static_cast<int64_t>(config_.distributed.bucket_mb * 1024 * 1024),
                                                     config_.distributed.overlap);
  }
  s.schedule = std::make_unique<LrSchedule>(ParseLrScheduler(t.lr_scheduler), t.learning_rate, t.warmup_steps,
                                            s.total_steps);
  s.checkpoints = std::make_unique<CheckpointManager>(config_.output.dir, static_cast<int>(config_.output.save_total_limit));
  s.checkpoints->set_max_shard_bytes(config_.output.max_shard_size_mb * 1'000'000);

  s.trainer_state.config_hash = config_.TrainingHash();
  s.trainer_state.reference_fingerprint = s.reference_fingerprint;
  s.trainer_state.world_size = communicator_.world_size();
  s.trainer_state.extra["global_batch_size"] = global_batch;
  ResumeIfPossible();
  if (communicator_.world_size() > 1) {
    CheckRanksAgree(communicator_,
                    "weights:\n  policy: " + ModelFingerprint(*s.models.policy, tokenizer.Name()) +
                        "\n  reference: " + s.reference_fingerprint + "\n  step: " + std::to_string(s.trainer_state.step) + "\n",
                    "the weights");
  }
  const int64_t resumed_step = s.last_saved_step;
  if (writer) s.metrics_log = std::make_unique<MetricsLog>(config_.output.dir + "/metrics.jsonl", resumed_step);
  s.progress = std::make_unique<ProgressLine>(writer ? config_.metrics.progress : std::string("never"));
  s.drift = std::make_unique<DriftMonitor>(config_.metrics.drift_warning_nats);
  if (services_.observer != nullptr) services_.observer->OnDataLoaded(s.train.dropped_by_reason);
  s.models.policy->module().train();
}

void Trainer::AgreeOnStart() {
  if (communicator_.world_size() == 1) return;
  std::string description = config_.ToYaml() + "data_files:\n  train: " + Sha256FileHex(config_.data_train) + "\n";
  if (!config_.data_eval.empty()) description += "  eval: " + Sha256FileHex(config_.data_eval) + "\n";
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

  const TrainerState restored = s.checkpoints->Load(checkpoint, *s.models.policy, *s.optimizer);
  if (restored.config_hash != s.trainer_state.config_hash) {
    throw InvalidInput(checkpoint + " was written by a job with other training settings (config hash " +
                       restored.config_hash + ", this job " + s.trainer_state.config_hash +
                       "); restore the job file or set output.resume=never");
  }
  if (restored.reference_fingerprint != s.reference_fingerprint) {
    throw Error(ErrorKind::kReferenceUnavailable,
                checkpoint + " was trained against the reference model with fingerprint " +
                    restored.reference_fingerprint + ", but the reference now has fingerprint " + s.reference_fingerprint);
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
      << "  reference: " << (s.loss->needs_reference() ? config_.reference.mode : std::string("none (reference-free loss)"))
      << "\n"
      << "  ranks: " << communicator_.world_size() << ", global batch "
      << t.per_device_batch_size * t.gradient_accumulation_steps * communicator_.world_size() << " pairs ("
      << t.per_device_batch_size << " per micro-batch x " << t.gradient_accumulation_steps << " accumulation x "
      << communicator_.world_size() << " ranks)\n"
      << "  steps: " << s.total_steps << " (" << s.sampler->StepsPerEpoch() << " per epoch)\n";
}

int Trainer::Run() {
  InstallStopSignalHandlers();
  Setup(/*for_training=*/true);
  State& s = *state_;
  s.run_started = Clock::now();
  s.interval = LogInterval{};
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
    try {
      TrainStep();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kReferenceUnavailable) throw;
      // The failed step was not applied: keep the work done so far, then stop (exit 3).
      s.progress->Finish();
      ZeroGradients(s.models.policy->module().parameters());
      if (s.last_saved_step != s.trainer_state.step) SaveCheckpoint();
      throw;
    }
    const int64_t step = s.trainer_state.step;
    if (config_.training.eval_steps > 0 && s.eval && step % config_.training.eval_steps == 0) Evaluate();
    if (config_.output.save_steps > 0 && step % config_.output.save_steps == 0 && step < s.total_steps) SaveCheckpoint();
  }
  s.progress->Finish();
  if (s.eval && (config_.training.eval_steps == 0 || s.total_steps % config_.training.eval_steps != 0)) Evaluate();
  if (s.last_saved_step != s.trainer_state.step) SaveCheckpoint();
  WriteFinalModel();
  return 0;
}

std::vector<int64_t> Trainer::MicroBatch(const std::vector<int64_t>& rank_shard, int64_t micro) const {
  const int64_t size = config_.training.per_device_batch_size;
  const auto begin = rank_shard.begin() + micro * size;
  return std::vector<int64_t>(begin, begin + size);
}

void Trainer::PrefetchReference(const std::vector<int64_t>& shard) {
  State& s = *state_;
  if (config_.reference.prefetch <= 0) return;
  // This step's and the next step's micro-batches, in the order they will be scored.
  PairSampler next = *s.sampler;
  next.Advance();
  const std::vector<int64_t> next_shard = next.RankShard();
  int64_t announced = 0;
  for (const auto* source : {&shard, &next_shard}) {
    for (int64_t micro = 0; micro < config_.training.gradient_accumulation_steps && announced < config_.reference.prefetch;
         ++micro, ++announced) {
      s.step_runner->Prefetch(s.train.pairs, MicroBatch(*source, micro));
    }
  }
}

void Trainer::ObserveStep(const StepReport& report) {
  State& s = *state_;
  if (const auto warning = s.drift->Observe(report.step, report.means); warning && communicator_.rank() == 0) {
    s.progress->Finish();
    std::cerr << *warning << "\n";
  }
  if (services_.observer != nullptr) services_.observer->OnStep(report);
}

void Trainer::TrainStep() {
  State& s = *state_;
  const TrainingSection& t = config_.training;
  const int64_t step = s.trainer_state.step;
  const auto step_started = Clock::now();
  if (services_.watchdog != nullptr) services_.watchdog->SetStep(step + 1);
  const double learning_rate = s.schedule->At(step);
  for (auto& group : s.optimizer->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learning_rate);
  }

  const std::vector<int64_t> shard = s.sampler->RankShard();
  const LossNormalizer normalizer = PreferenceStep::NormalizerFor(s.train.pairs, s.sampler->GlobalBatch());
  const PrecomputedReference* precomputed = s.precomputed ? &*s.precomputed : nullptr;
  if (precomputed == nullptr && config_.reference.mode == "server") PrefetchReference(shard);
  StepTotals totals;
  std::optional<Error> reference_failure;
  try {
    for (int64_t micro = 0; micro < t.gradient_accumulation_steps; ++micro) {
      if (s.gradient_sync && micro + 1 == t.gradient_accumulation_steps) s.gradient_sync->Arm();
      s.step_runner->Run(s.train.pairs, MicroBatch(shard, micro), normalizer, precomputed, /*backward=*/true, totals);
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kReferenceUnavailable) throw;
    reference_failure = e;
  }
  const std::string fault_point = "rank" + std::to_string(communicator_.rank());
  for (const char* action : {".throw", ".hang", ".kill"}) MaybeInjectFault(fault_point + action, step + 1);

  auto parameters = s.models.policy->module().parameters();
  double grad_sync_seconds = 0;
  if (s.gradient_sync) {
    // Also after a failed micro-batch: every rank must issue the same collectives.
    const auto sync_started = Clock::now();
    s.gradient_sync->Finish();
    grad_sync_seconds = Seconds(sync_started);
  }
  if (communicator_.world_size() > 1) {
    // All ranks skip the step together when any rank could not get its reference log-probs.
    std::vector<double> failed{reference_failure ? 1.0 : 0.0};
    communicator_.AllReduceSum(failed);
    if (failed[0] > 0 && !reference_failure) {
      reference_failure = Error(ErrorKind::kReferenceUnavailable,
                                "step " + std::to_string(step + 1) + ": another rank could not get reference log-probs (see its log)");
    }
  }
  if (reference_failure) throw *reference_failure;
  if (communicator_.world_size() > 1) ReduceTotals(communicator_, totals);
  const double max_norm = t.max_grad_norm > 0 ? t.max_grad_norm : std::numeric_limits<double>::infinity();
  const double grad_norm = torch::nn::utils::clip_grad_norm_(parameters, max_norm);
  // Gradients and totals are identical on every rank after the sync, so every rank takes the
  // same skip decision.
  const bool finite = std::isfinite(totals.loss) && std::isfinite(grad_norm);
  if (finite) {
    s.optimizer->step();
    s.trainer_state.consecutive_skipped_steps = 0;
  } else {
    ++s.trainer_state.skipped_steps;
    ++s.trainer_state.consecutive_skipped_steps;
    std::cerr << "step " << step + 1 << ": non-finite " << (std::isfinite(totals.loss) ? "gradient" : "loss")
              << " (loss " << totals.loss << ", grad_norm " << grad_norm << "); update skipped\n";
    if (s.trainer_state.consecutive_skipped_steps >= t.max_consecutive_skipped_steps) {
      throw InvalidInput("training stopped at step " + std::to_string(step + 1) + ": " +
                         std::to_string(s.trainer_state.consecutive_skipped_steps) +
                         " consecutive steps had a non-finite loss or gradient (training.max_consecutive_skipped_steps=" +
                         std::to_string(t.max_consecutive_skipped_steps) + "); lower training.learning_rate or check the data");
    }
  }
  ZeroGradients(parameters);
  s.sampler->Advance();
  s.trainer_state.step = step + 1;
  s.trainer_state.sampler = s.sampler->State();
  s.trainer_state.tokens_seen += totals.tokens;
  s.trainer_state.pairs_seen += s.sampler->global_batch_size();
  ++s.steps_this_run;

  StepReport report;
  report.step = step + 1;
  report.loss = totals.loss;
  report.means = totals.metrics.Means();
  report.grad_norm = grad_norm;
  report.learning_rate = learning_rate;
  report.tokens = totals.tokens;
  report.pairs = s.sampler->global_batch_size();
  report.skipped = !finite;
  if (!finite) report.skip_reason = std::isfinite(totals.loss) ? "nonfinite_gradient" : "nonfinite_loss";
  report.step_seconds = Seconds(step_started);
  report.reference_wait_seconds = s.observed_reference != nullptr ? s.observed_reference->TakeWaitSeconds() : 0.0;
  report.allreduce_seconds = grad_sync_seconds;
  ObserveStep(report);

  LogInterval& interval = s.interval;
  ++interval.steps;
  interval.loss += totals.loss;
  interval.metrics.Add(totals.metrics);
  interval.tokens += totals.tokens;
  interval.pairs += s.sampler->global_batch_size();
  interval.grad_sync_seconds += grad_sync_seconds;
  const int64_t done = s.trainer_state.step;
  if (done % t.logging_steps != 0 && done != s.total_steps) return;

  const double seconds = std::max(1e-9, Seconds(interval.started));
  const auto means = interval.metrics.Means();
  nlohmann::json record = {
      {"step", done},
      {"epoch", static_cast<double>(done) / static_cast<double>(s.sampler->StepsPerEpoch())},
      {"loss", interval.loss / static_cast<double>(interval.steps)},
      {"grad_norm", grad_norm},
      {"learning_rate", learning_rate},
      {"num_tokens", s.trainer_state.tokens_seen},
      {"pairs/s", static_cast<double>(interval.pairs) / seconds},
      {"tokens/s", static_cast<double>(interval.tokens) / seconds},
      {"skipped_steps", s.trainer_state.skipped_steps},
      {"time/step_s", seconds / static_cast<double>(interval.steps)},
  };
  if (communicator_.world_size() > 1) {
    record["time/grad_sync_s"] = interval.grad_sync_seconds / static_cast<double>(interval.steps);
  }
  for (const auto& [key, value] : means) record[key] = value;
  // The KL proxy: mean log pi - log pi_ref of the chosen and of the rejected responses (nats).
  record["log_ratio/chosen"] = means.at("rewards/chosen") / config_.training.loss.beta;
  record["log_ratio/rejected"] = means.at("rewards/rejected") / config_.training.loss.beta;
  if (s.metrics_log) s.metrics_log->Write(record);
  const double per_step = Seconds(s.run_started) / static_cast<double>(s.steps_this_run);
  s.progress->Update(done, s.total_steps, record["loss"], means.at("rewards/accuracies"), means.at("rewards/margins"),
                     record["pairs/s"], per_step * static_cast<double>(s.total_steps - done));
  interval = LogInterval{};
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
      s.step_runner->Run(pairs, indices, normalizer, nullptr, /*backward=*/false, totals);
    }
  }
  if (communicator_.world_size() > 1) ReduceTotals(communicator_, totals);
  nlohmann::json record = {{"step", s.trainer_state.step}, {"eval_loss", totals.loss}};
  for (const auto& [key, value] : totals.metrics.Means()) record["eval_" + key] = value;
  if (s.metrics_log) s.metrics_log->Write(record);
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
    const std::string directory = s.checkpoints->Save(s.trainer_state.step, *s.models.policy, *s.models.tokenizer,
                                                      *s.optimizer, s.trainer_state, config_.ToYaml());
    std::cerr << "checkpoint " << directory << "\n";
    if (services_.observer != nullptr) services_.observer->OnCheckpoint(s.trainer_state.step);
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
