// The job file of dpo-train: one YAML document with the sections model, tokenizer, data,
// training, reference, output, metrics and distributed, plus `--set section.key=value` overrides.
// Defaults follow TRL / HF TrainingArguments where they have one. Each key is declared once, in
// the field table (job_fields.h); the defaults are those of the structs below and of the
// component options they embed (DataOptions, LossOptions, LogProbOptions, RemoteReferenceOptions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/data_options.h"
#include "core/loss/log_prob_options.h"
#include "core/loss/loss_options.h"
#include "core/model/model_config.h"
#include "core/optim/lr_schedule.h"
#include "job/remote_reference_options.h"

namespace dpo {

// The modes of the job file; each spelled in YAML as its name (JobEnumName).
enum class ReferenceMode { kLocal, kServer };  // in-process frozen model, or dpo-reference-server
enum class DeviceKind { kCpu, kCuda };
enum class MixedPrecision { kNo, kBf16 };      // bf16: CUDA autocast; float32 weights and optimizer
enum class ProgressMode { kAuto, kAlways, kNever };  // auto: when stderr is a terminal

const char* JobEnumName(ReferenceMode mode);
const char* JobEnumName(DeviceKind device);
const char* JobEnumName(MixedPrecision precision);
const char* JobEnumName(ProgressMode mode);

// model.init's value for a randomly initialised model (anything else is a model directory).
inline constexpr const char* kRandomInit = "random";

struct ModelSection {
  std::string init = kRandomInit;  // kRandomInit or an HF-layout model directory
  uint64_t seed = 0;               // weight init seed when init is random
  // Architecture of a random model: model_type (gpt2, llama, mistral, qwen2; default gpt2) and
  // config.json fields of that family, HF's defaults for the rest. Refused when init is a
  // directory: the directory's config.json decides. vocab_size 0 = the tokenizer's.
  ModelConfig architecture;
  // Recompute each transformer block's activations during backward instead of keeping them:
  // less memory for about one more forward pass per step. Requires dropout 0.
  bool gradient_checkpointing = false;
  LogProbOptions log_probs;  // log_prob_chunk_tokens

  bool random_init() const { return init == kRandomInit; }
};

struct TrainingSection {
  LossOptions loss;
  double learning_rate = 1e-6;
  int64_t max_steps = -1;  // > 0 overrides epochs
  int64_t epochs = 3;
  int64_t per_device_batch_size = 8;  // pairs per micro-batch on each rank
  int64_t gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;  // <= 0 disables clipping (the norm is still logged)
  int64_t warmup_steps = 0;
  LrSchedulerKind lr_scheduler = LrSchedulerKind::kLinear;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  uint64_t seed = 42;  // data order
  int64_t threads = 0;  // intra-op threads; 0 = OMP_NUM_THREADS or all cores
  // cuda: each rank drives GPU (local rank mod visible GPUs); several ranks then sum gradients
  // with NCCL.
  DeviceKind device = DeviceKind::kCpu;
  MixedPrecision mixed_precision = MixedPrecision::kNo;
  int64_t logging_steps = 1;
  int64_t eval_steps = 0;  // 0: evaluate only at the end (when data.eval is set)
  int64_t max_consecutive_skipped_steps = 5;  // non-finite steps in a row before the run stops
};

struct ReferenceSection {
  ReferenceMode mode = ReferenceMode::kLocal;
  std::string model;        // local: a model directory; empty = the initial policy
  bool precompute = false;  // score the whole train set once before training
  RemoteReferenceOptions server;  // mode server: address, TLS, token, deadlines, prefetch
};

struct OutputSection {
  std::string dir = "output";
  int64_t save_steps = 0;  // 0: only at the end
  int64_t save_total_limit = 0;  // 0: keep every checkpoint
  std::string resume = "auto";   // auto, never, or a checkpoint directory
  // With resume=never, delete a run already in `dir` instead of refusing to start.
  bool overwrite = false;
  // Resume even when the training data's SHA-256 differs from the one the checkpoint recorded.
  bool resume_with_changed_data = false;
  // dtype of the final model's weights: auto (the torch_dtype of model.init's config.json;
  // float32 for a random model), float32, bfloat16 or float16. Checkpoints stay float32 so that
  // resuming is exact.
  std::string save_dtype = "auto";
  // Weights above this size are written as shards with model.safetensors.index.json.
  int64_t max_shard_size_mb = 5000;
};

// How ranks cooperate (no effect on the math; not part of TrainingHash).
struct DistributedSection {
  // Longest a collective (all-reduce, broadcast) or one reference fetch may take before the
  // rank ends the job with exit code 4. 0 disables the watchdog.
  double timeout_seconds = 600;
  double bucket_mb = 25;  // gradient all-reduce bucket size, MiB
  // Start each bucket's all-reduce during the last backward pass as soon as its gradients are
  // final, instead of after it.
  bool overlap = false;
  // 0: every rank holds the whole AdamW state; 1: each holds 1/world_size of it (ZeRO-1);
  // 2: also gradients are reduce-scattered (ZeRO-2). See trainer/zero/. The same losses and
  // weights (within float rounding) at every stage, and a checkpoint resumes under any stage.
  int64_t zero_stage = 0;
};

struct MetricsSection {
  ProgressMode progress = ProgressMode::kAuto;
  // Prometheus /metrics of every rank at HOST:(PORT + local rank); port 0 disables.
  std::string prometheus_listen = "127.0.0.1:0";
  // Keep serving /metrics this long after training ends, so the last values get scraped.
  double prometheus_linger_seconds = 0;
  // Warn once when the chosen responses' mean log-prob falls this many nats below its value at
  // the first step (DPO drifting off the data); 0 disables.
  double drift_warning_nats = 5;
};

struct JobConfig {
  ModelSection model;
  std::string tokenizer = "byte";  // tokenizer.type
  std::string data_train;          // data.train
  std::string data_eval;           // data.eval (optional)
  DataOptions data;
  TrainingSection training;
  ReferenceSection reference;
  OutputSection output;
  MetricsSection metrics;
  DistributedSection distributed;

  // Reads a job file and applies overrides ("section.key=value", the value parsed as YAML, so
  // `training.loss_type=[sigmoid,sft]` works). Relative data and model paths are resolved
  // against the job file's directory. Throws Error(kInvalidInput) listing every problem:
  // unknown keys, wrong types, invalid values and combinations.
  static JobConfig Load(const std::string& path, const std::vector<std::string>& overrides);
  // The same from YAML text (`origin` names it in messages; paths resolve against `base_dir`).
  static JobConfig Parse(const std::string& yaml_text, const std::string& origin, const std::string& base_dir,
                         const std::vector<std::string>& overrides);

  // Every problem of the values (not of the YAML shape), each naming key, value and limit.
  std::vector<std::string> Validate() const;

  // The resolved configuration as YAML (every key, defaults included): printed by
  // --print-config, stored in checkpoints, and hashed to check that ranks and resumed runs agree.
  std::string ToYaml() const;
  // ToYaml with each key's meaning as a comment (--print-config).
  std::string ToDocumentedYaml() const;
  // SHA-256 hex of the settings that change the math of training (everything but output.*,
  // metrics.*, distributed.*, how the reference server is reached, and how the global batch is
  // split into micro-batches and ranks: the global batch size itself is checked on resume), so
  // a resumed or restarted run can prove it computes the same thing.
  std::string TrainingHash() const;
};

}  // namespace dpo
