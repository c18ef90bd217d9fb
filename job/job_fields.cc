// The job file's field table and the YAML names of its modes.
#include "job/job_fields.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/common/error.h"
#include "job/job_config.h"

namespace dpo {
namespace {

template <typename E>
using Names = std::vector<std::pair<E, const char*>>;

const Names<ReferenceMode> kReferenceModes = {{ReferenceMode::kLocal, "local"}, {ReferenceMode::kServer, "server"}};
const Names<DeviceKind> kDevices = {{DeviceKind::kCpu, "cpu"}, {DeviceKind::kCuda, "cuda"}};
const Names<MixedPrecision> kPrecisions = {{MixedPrecision::kNo, "no"}, {MixedPrecision::kBf16, "bf16"}};
const Names<ProgressMode> kProgressModes = {
    {ProgressMode::kAuto, "auto"}, {ProgressMode::kAlways, "always"}, {ProgressMode::kNever, "never"}};
const std::vector<std::string> kSaveDtypes = {"auto", "float32", "bfloat16", "float16"};

template <typename E>
const char* NameIn(const Names<E>& names, E value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "?";
}

std::string NotSupported(const std::string& key, const std::string& value, const std::vector<std::string>& names) {
  std::string accepted;
  for (const std::string& name : names) accepted += (accepted.empty() ? "" : ", ") + name;
  return key + "=\"" + value + "\" is not supported (supported: " + accepted + ")";
}

// An enum of this file, named by `names`.
template <typename E>
NamedChoice Choice(E* member, const Names<E>& names, const char* key) {
  return {[member, &names] { return std::string(NameIn(names, *member)); },
          [member, &names, key](const std::string& name) -> std::string {
            std::vector<std::string> accepted;
            for (const auto& [value, spelling] : names) {
              if (name == spelling) {
                *member = value;
                return "";
              }
              accepted.emplace_back(spelling);
            }
            return NotSupported(key, name, accepted);
          }};
}

// A string limited to `names`.
NamedChoice Choice(std::string* member, const std::vector<std::string>& names, const char* key) {
  return {[member] { return *member; },
          [member, &names, key](const std::string& name) -> std::string {
            if (std::find(names.begin(), names.end(), name) == names.end()) return NotSupported(key, name, names);
            *member = name;
            return "";
          }};
}

// An enum of core whose Parse function throws Error(kInvalidInput) naming key, value and names.
template <typename E, typename ParseFn, typename NameFn>
NamedChoice CoreChoice(E* member, ParseFn parse, NameFn name_of) {
  return {[member, name_of] { return std::string(name_of(*member)); },
          [member, parse](const std::string& name) -> std::string {
            try {
              *member = parse(name);
            } catch (const Error& e) {
              return e.what();
            }
            return "";
          }};
}

using Hash = TrainingHashRole;

// clang-format off
// {section, key, is_path, training hash role, doc, member}
const std::vector<JobField> kFields = {
  {"model", "init", true, Hash::kValue, "random, or an HF model directory to start from", [](JobConfig& c) -> FieldRef { return &c.model.init; }},
  {"model", "seed", false, Hash::kValue, "weight init seed of a random model", [](JobConfig& c) -> FieldRef { return &c.model.seed; }},
  {"model", "log_prob_chunk_tokens", false, Hash::kValue, "completion tokens per output-projection chunk (memory of the log-probs)", [](JobConfig& c) -> FieldRef { return &c.model.log_probs.chunk_tokens; }},
  {"model", "gradient_checkpointing", false, Hash::kDefault, "recompute block activations in backward: less memory, ~1 more forward", [](JobConfig& c) -> FieldRef { return &c.model.gradient_checkpointing; }},
  {"tokenizer", "type", false, Hash::kValue, "byte, or hf:<tokenizer.json> for a random model (a model directory names its own)", [](JobConfig& c) -> FieldRef { return &c.tokenizer; }},
  {"data", "train", true, Hash::kValue, "preference JSONL (prompt, chosen, rejected)", [](JobConfig& c) -> FieldRef { return &c.data_train; }},
  {"data", "eval", true, Hash::kValue, "optional evaluation JSONL", [](JobConfig& c) -> FieldRef { return &c.data_eval; }},
  {"data", "max_length", false, Hash::kValue, "prompt + completion tokens of one sequence", [](JobConfig& c) -> FieldRef { return &c.data.max_length; }},
  {"data", "max_prompt_length", false, Hash::kValue, "prompt tokens (BOS included)", [](JobConfig& c) -> FieldRef { return &c.data.max_prompt_length; }},
  {"data", "truncation_mode", false, Hash::kValue, "keep_end or keep_start of a prompt that is too long", [](JobConfig& c) -> FieldRef { return CoreChoice(&c.data.truncation_mode, ParseTruncationMode, TruncationModeName); }},
  {"data", "on_bad_row", false, Hash::kValue, "error, or skip (counted and listed in rejects.jsonl)", [](JobConfig& c) -> FieldRef { return CoreChoice(&c.data.on_bad_row, ParseBadRowPolicy, BadRowPolicyName); }},
  {"data", "max_reported_problems", false, Hash::kValue, "problems listed by on_bad_row=error (the count is complete)", [](JobConfig& c) -> FieldRef { return &c.data.max_reported_problems; }},
  {"data", "max_line_bytes", false, Hash::kLeftOut, "a longer JSONL line is a bad row, never parsed", [](JobConfig& c) -> FieldRef { return &c.data.max_line_bytes; }},
  {"data", "chat_template", false, Hash::kValue, "auto, chatml, llama3 or plain, for conversational rows", [](JobConfig& c) -> FieldRef { return CoreChoice(&c.data.chat_template, ParseChatTemplateKind, ChatTemplateKindName); }},
  {"training", "loss_type", false, Hash::kValue, "one loss type or a list (TRL's names, docs/losses.md)", [](JobConfig& c) -> FieldRef { return &c.training.loss.loss_type; }},
  {"training", "loss_weights", false, Hash::kValue, "one weight per loss type; empty = 1 each", [](JobConfig& c) -> FieldRef { return &c.training.loss.loss_weights; }},
  {"training", "beta", false, Hash::kValue, "DPO temperature: strength of the pull toward the reference", [](JobConfig& c) -> FieldRef { return &c.training.loss.beta; }},
  {"training", "label_smoothing", false, Hash::kValue, "conservative DPO / robust flip rate / exo_pair epsilon", [](JobConfig& c) -> FieldRef { return &c.training.loss.label_smoothing; }},
  {"training", "simpo_gamma", false, Hash::kValue, "SimPO target reward margin", [](JobConfig& c) -> FieldRef { return &c.training.loss.simpo_gamma; }},
  {"training", "discopop_tau", false, Hash::kValue, "DiscoPOP temperature", [](JobConfig& c) -> FieldRef { return &c.training.loss.discopop_tau; }},
  {"training", "rpo_alpha", false, Hash::kValue, "> 0 adds rpo_alpha x the NLL of the chosen completions", [](JobConfig& c) -> FieldRef { return &c.training.loss.rpo_alpha; }},
  {"training", "learning_rate", false, Hash::kValue, "peak AdamW learning rate", [](JobConfig& c) -> FieldRef { return &c.training.learning_rate; }},
  {"training", "max_steps", false, Hash::kValue, "optimizer steps; -1: epochs decide", [](JobConfig& c) -> FieldRef { return &c.training.max_steps; }},
  {"training", "epochs", false, Hash::kValue, "passes over the data when max_steps is -1", [](JobConfig& c) -> FieldRef { return &c.training.epochs; }},
  {"training", "per_device_batch_size", false, Hash::kDefault, "pairs per micro-batch on each rank", [](JobConfig& c) -> FieldRef { return &c.training.per_device_batch_size; }},
  {"training", "gradient_accumulation_steps", false, Hash::kDefault, "micro-batches per optimizer step on each rank", [](JobConfig& c) -> FieldRef { return &c.training.gradient_accumulation_steps; }},
  {"training", "max_grad_norm", false, Hash::kValue, "clip the global gradient norm; <= 0: no clipping", [](JobConfig& c) -> FieldRef { return &c.training.max_grad_norm; }},
  {"training", "warmup_steps", false, Hash::kValue, "linear warm-up steps", [](JobConfig& c) -> FieldRef { return &c.training.warmup_steps; }},
  {"training", "lr_scheduler", false, Hash::kValue, "constant, linear or cosine after warm-up", [](JobConfig& c) -> FieldRef { return CoreChoice(&c.training.lr_scheduler, ParseLrScheduler, LrSchedulerName); }},
  {"training", "weight_decay", false, Hash::kValue, "AdamW decoupled weight decay of matrices and embeddings (biases and norms: none, as HF)", [](JobConfig& c) -> FieldRef { return &c.training.weight_decay; }},
  {"training", "adam_beta1", false, Hash::kValue, "AdamW beta1", [](JobConfig& c) -> FieldRef { return &c.training.adam_beta1; }},
  {"training", "adam_beta2", false, Hash::kValue, "AdamW beta2", [](JobConfig& c) -> FieldRef { return &c.training.adam_beta2; }},
  {"training", "adam_epsilon", false, Hash::kValue, "AdamW epsilon", [](JobConfig& c) -> FieldRef { return &c.training.adam_epsilon; }},
  {"training", "seed", false, Hash::kValue, "data order", [](JobConfig& c) -> FieldRef { return &c.training.seed; }},
  {"training", "threads", false, Hash::kValue, "intra-op threads; 0 = OMP_NUM_THREADS or all cores", [](JobConfig& c) -> FieldRef { return &c.training.threads; }},
  {"training", "device", false, Hash::kDefault, "cpu or cuda (each rank drives GPU local_rank mod visible GPUs)", [](JobConfig& c) -> FieldRef { return Choice(&c.training.device, kDevices, "training.device"); }},
  {"training", "mixed_precision", false, Hash::kValue, "no, or bf16 (CUDA autocast; float32 weights and optimizer)", [](JobConfig& c) -> FieldRef { return Choice(&c.training.mixed_precision, kPrecisions, "training.mixed_precision"); }},
  {"training", "logging_steps", false, Hash::kValue, "steps per metrics.jsonl record", [](JobConfig& c) -> FieldRef { return &c.training.logging_steps; }},
  {"training", "eval_steps", false, Hash::kValue, "steps between evaluations; 0: at the end only", [](JobConfig& c) -> FieldRef { return &c.training.eval_steps; }},
  {"training", "max_consecutive_skipped_steps", false, Hash::kValue, "non-finite steps in a row before the run stops", [](JobConfig& c) -> FieldRef { return &c.training.max_consecutive_skipped_steps; }},
  {"reference", "mode", false, Hash::kDefault, "local (in-process frozen model) or server (dpo-reference-server)", [](JobConfig& c) -> FieldRef { return Choice(&c.reference.mode, kReferenceModes, "reference.mode"); }},
  {"reference", "model", true, Hash::kValue, "local: the reference model directory; empty = the initial policy", [](JobConfig& c) -> FieldRef { return &c.reference.model; }},
  {"reference", "precompute", false, Hash::kValue, "score the whole training set once before training", [](JobConfig& c) -> FieldRef { return &c.reference.precompute; }},
  {"reference", "address", false, Hash::kDefault, "server: HOST:PORT of dpo-reference-server", [](JobConfig& c) -> FieldRef { return &c.reference.server.address; }},
  {"reference", "fingerprint", false, Hash::kDefault, "server: the model fingerprint the server must serve (required unless accept_any_model)", [](JobConfig& c) -> FieldRef { return &c.reference.server.expected_fingerprint; }},
  {"reference", "accept_any_model", false, Hash::kLeftOut, "server: without a fingerprint, accept the model the server reports", [](JobConfig& c) -> FieldRef { return &c.reference.server.accept_any_model; }},
  {"reference", "tls_ca", true, Hash::kDefault, "server: PEM roots; enables TLS", [](JobConfig& c) -> FieldRef { return &c.reference.server.tls_ca_file; }},
  {"reference", "tls_cert", true, Hash::kDefault, "server: client certificate (mTLS), with tls_key", [](JobConfig& c) -> FieldRef { return &c.reference.server.tls_cert_file; }},
  {"reference", "tls_key", true, Hash::kDefault, "server: client key (mTLS)", [](JobConfig& c) -> FieldRef { return &c.reference.server.tls_key_file; }},
  {"reference", "auth_token_file", true, Hash::kDefault, "server: file holding the bearer token", [](JobConfig& c) -> FieldRef { return &c.reference.server.auth_token_file; }},
  {"reference", "timeout_seconds", false, Hash::kDefault, "server: deadline of one call", [](JobConfig& c) -> FieldRef { return &c.reference.server.call_timeout_seconds; }},
  {"reference", "retry_budget_seconds", false, Hash::kDefault, "server: retrying one batch gives up after this long (exit 3)", [](JobConfig& c) -> FieldRef { return &c.reference.server.retry_budget_seconds; }},
  {"reference", "prefetch", false, Hash::kDefault, "server: micro-batches requested ahead", [](JobConfig& c) -> FieldRef { return &c.reference.server.prefetch_window; }},
  {"output", "dir", true, Hash::kDefault, "checkpoints, metrics.jsonl, rejects.jsonl and final/", [](JobConfig& c) -> FieldRef { return &c.output.dir; }},
  {"output", "save_steps", false, Hash::kDefault, "steps between checkpoints; 0: at the end only", [](JobConfig& c) -> FieldRef { return &c.output.save_steps; }},
  {"output", "save_total_limit", false, Hash::kDefault, "checkpoints kept; 0: all", [](JobConfig& c) -> FieldRef { return &c.output.save_total_limit; }},
  {"output", "resume", true, Hash::kDefault, "auto (newest valid checkpoint), never, or a checkpoint directory", [](JobConfig& c) -> FieldRef { return &c.output.resume; }},
  {"output", "overwrite", false, Hash::kLeftOut, "with resume: never, delete a run already in dir instead of refusing to start", [](JobConfig& c) -> FieldRef { return &c.output.overwrite; }},
  {"output", "resume_with_changed_data", false, Hash::kLeftOut, "resume although data.train changed since the checkpoint (its SHA-256 differs)", [](JobConfig& c) -> FieldRef { return &c.output.resume_with_changed_data; }},
  {"output", "save_dtype", false, Hash::kDefault, "final weights: auto (that of model.init), float32, bfloat16, float16", [](JobConfig& c) -> FieldRef { return Choice(&c.output.save_dtype, kSaveDtypes, "output.save_dtype"); }},
  {"output", "max_shard_size_mb", false, Hash::kDefault, "larger weights are written as shards", [](JobConfig& c) -> FieldRef { return &c.output.max_shard_size_mb; }},
  {"metrics", "progress", false, Hash::kDefault, "auto (when stderr is a terminal), always or never", [](JobConfig& c) -> FieldRef { return Choice(&c.metrics.progress, kProgressModes, "metrics.progress"); }},
  {"metrics", "prometheus_listen", false, Hash::kDefault, "HOST:PORT of rank 0's /metrics (PORT + local rank); port 0 disables", [](JobConfig& c) -> FieldRef { return &c.metrics.prometheus_listen; }},
  {"metrics", "prometheus_linger_seconds", false, Hash::kDefault, "keep serving /metrics this long after training", [](JobConfig& c) -> FieldRef { return &c.metrics.prometheus_linger_seconds; }},
  {"metrics", "drift_warning_nats", false, Hash::kDefault, "warn when logps/chosen falls this far below step 1; 0 disables", [](JobConfig& c) -> FieldRef { return &c.metrics.drift_warning_nats; }},
  {"distributed", "timeout_seconds", false, Hash::kDefault, "longest collective or reference fetch before exit 4; 0 disables", [](JobConfig& c) -> FieldRef { return &c.distributed.timeout_seconds; }},
  {"distributed", "bucket_mb", false, Hash::kDefault, "gradient all-reduce bucket size, MiB", [](JobConfig& c) -> FieldRef { return &c.distributed.bucket_mb; }},
  {"distributed", "overlap", false, Hash::kDefault, "start bucket all-reduces during the last backward", [](JobConfig& c) -> FieldRef { return &c.distributed.overlap; }},
  {"distributed", "zero_stage", false, Hash::kLeftOut, "0: replicated AdamW state; 1: sharded over ranks (ZeRO-1); 2: gradients reduce-scattered too (ZeRO-2)", [](JobConfig& c) -> FieldRef { return &c.distributed.zero_stage; }},
};
// clang-format on

}  // namespace

const char* JobEnumName(ReferenceMode mode) { return NameIn(kReferenceModes, mode); }
const char* JobEnumName(DeviceKind device) { return NameIn(kDevices, device); }
const char* JobEnumName(MixedPrecision precision) { return NameIn(kPrecisions, precision); }
const char* JobEnumName(ProgressMode mode) { return NameIn(kProgressModes, mode); }

const std::vector<JobField>& JobFields() { return kFields; }

const std::vector<std::string>& JobSections() {
  static const std::vector<std::string> sections = {"model",     "tokenizer", "data",    "training",
                                                    "reference", "output",    "metrics", "distributed"};
  return sections;
}

const JobField* FindJobField(const std::string& section, const std::string& key) {
  for (const JobField& field : kFields) {
    if (section == field.section && key == field.key) return &field;
  }
  return nullptr;
}

}  // namespace dpo
