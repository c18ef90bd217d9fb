// JobConfig: YAML -> typed sections (with overrides), validation, and the resolved YAML.
#include "trainer/config/job_config.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/sha256.h"
#include "trainer/config/yaml_reader.h"
#include "trainer/loop/lr_schedule.h"

namespace dpo {
namespace {

const std::vector<std::string> kSections = {"model", "tokenizer", "data", "training", "reference", "output", "metrics",
                                            "distributed"};

// Keys holding paths. In the job file they are relative to the file; on the command line, to
// the working directory, as a shell user expects.
bool IsPathKey(const std::string& section, const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> kPathKeys = {
      {"model", "init"},        {"data", "train"},         {"data", "eval"},
      {"reference", "model"},   {"reference", "tls_ca"},   {"reference", "tls_cert"},
      {"reference", "tls_key"}, {"reference", "auth_token_file"}, {"output", "dir"},
      {"output", "resume"}};
  return std::find(kPathKeys.begin(), kPathKeys.end(), std::pair{section, key}) != kPathKeys.end();
}

bool IsSpecialPathValue(const std::string& value) {
  return value.empty() || value == "random" || value == "auto" || value == "never";
}

// Applies "a.b=value" to the document; the value is parsed as YAML (scalars, [lists]).
void ApplyOverride(YAML::Node& root, const std::string& assignment, std::vector<std::string>* problems) {
  const auto equals = assignment.find('=');
  const auto dot = assignment.find('.');
  if (equals == std::string::npos || dot == std::string::npos || dot > equals || dot == 0 || dot + 1 == equals) {
    problems->push_back("--set " + assignment + ": expected section.key=value");
    return;
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, equals - dot - 1);
  const std::string value = assignment.substr(equals + 1);
  if (std::find(kSections.begin(), kSections.end(), section) == kSections.end()) {
    problems->push_back("--set " + assignment + ": unknown section \"" + section + "\"");
    return;
  }
  try {
    if (!root[section].IsMap()) root[section] = YAML::Node(YAML::NodeType::Map);
    if (IsPathKey(section, key) && !IsSpecialPathValue(value) && std::filesystem::path(value).is_relative()) {
      root[section][key] = std::filesystem::absolute(value).lexically_normal().string();
    } else {
      root[section][key] = YAML::Load(value);
    }
  } catch (const YAML::Exception& e) {
    problems->push_back("--set " + assignment + ": invalid value: " + e.msg);
  }
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path == "random" || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// The model section's keys other than init/seed/...: the architecture of a random model, in
// the config.json names of its model_type (default gpt2). vocab_size left out = the tokenizer's.
void ReadArchitecture(YamlSectionReader& reader, ModelConfig& architecture, std::vector<std::string>* problems) {
  const nlohmann::json fields = reader.TakeRemainingAsJson();
  architecture = ModelConfig::ParseHfJson(fields, ModelConfig::UnknownFields::kReject, "model.", problems);
  if (!fields.contains("vocab_size")) architecture.vocab_size = 0;
}

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

JobConfig JobConfig::Load(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  return Parse(ReadFile(path), path, base_dir.empty() ? "." : base_dir, overrides);
}

JobConfig JobConfig::Parse(const std::string& yaml_text, const std::string& origin, const std::string& base_dir,
                           const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InvalidInput(origin + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw InvalidInput(origin + ": expected a mapping of sections (" + std::string("model, data, training, ...") + ")");

  std::vector<std::string> problems;
  for (const auto& assignment : overrides) ApplyOverride(root, assignment, &problems);
  std::vector<std::string> seen_sections;
  for (const auto& entry : root) {
    const std::string name = entry.first.Scalar();
    if (std::find(seen_sections.begin(), seen_sections.end(), name) != seen_sections.end()) {
      problems.push_back(name + ": section appears more than once (YAML keys must be unique)");
    }
    seen_sections.push_back(name);
    if (std::find(kSections.begin(), kSections.end(), name) == kSections.end()) {
      problems.push_back(name + ": unknown section (known: model, tokenizer, data, training, reference, output, metrics, distributed)");
    }
  }

  const YAML::Node& sections = root;  // const: operator[] must not insert absent sections
  JobConfig config;
  {
    YamlSectionReader reader(sections["model"], "model", &problems);
    reader.Read("init", config.model.init);
    reader.Read("seed", config.model.seed);
    reader.Read("log_prob_chunk_tokens", config.model.log_prob_chunk_tokens);
    reader.Read("gradient_checkpointing", config.model.gradient_checkpointing);
    if (config.model.init == "random") {
      ReadArchitecture(reader, config.model.architecture, &problems);
    } else {
      reader.TakeRemainingAsJson();  // refused below
    }
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["tokenizer"], "tokenizer", &problems);
    reader.Read("type", config.tokenizer);
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["data"], "data", &problems);
    std::string truncation_mode = TruncationModeName(config.data.truncation_mode);
    std::string on_bad_row = BadRowPolicyName(config.data.on_bad_row);
    std::string chat_template = ChatTemplateKindName(config.data.chat_template);
    reader.Read("train", config.data_train);
    reader.Read("eval", config.data_eval);
    reader.Read("max_length", config.data.max_length);
    reader.Read("max_prompt_length", config.data.max_prompt_length);
    reader.Read("truncation_mode", truncation_mode);
    reader.Read("on_bad_row", on_bad_row);
    reader.Read("max_reported_problems", config.data.max_reported_problems);
    reader.Read("chat_template", chat_template);
    reader.ReportUnknownKeys();
    for (auto parse : {std::function<void()>([&] { config.data.truncation_mode = ParseTruncationMode(truncation_mode); }),
                       std::function<void()>([&] { config.data.on_bad_row = ParseBadRowPolicy(on_bad_row); }),
                       std::function<void()>([&] { config.data.chat_template = ParseChatTemplateKind(chat_template); })}) {
      try {
        parse();
      } catch (const Error& e) {
        problems.push_back(e.what());
      }
    }
  }
  {
    YamlSectionReader reader(sections["training"], "training", &problems);
    TrainingSection& t = config.training;
    reader.Read("loss_type", t.loss.loss_type);
    reader.Read("loss_weights", t.loss.loss_weights);
    reader.Read("beta", t.loss.beta);
    reader.Read("label_smoothing", t.loss.label_smoothing);
    reader.Read("simpo_gamma", t.loss.simpo_gamma);
    reader.Read("discopop_tau", t.loss.discopop_tau);
    reader.Read("rpo_alpha", t.loss.rpo_alpha);
    reader.Read("learning_rate", t.learning_rate);
    reader.Read("max_steps", t.max_steps);
    reader.Read("epochs", t.epochs);
    reader.Read("per_device_batch_size", t.per_device_batch_size);
    reader.Read("gradient_accumulation_steps", t.gradient_accumulation_steps);
    reader.Read("max_grad_norm", t.max_grad_norm);
    reader.Read("warmup_steps", t.warmup_steps);
    reader.Read("lr_scheduler", t.lr_scheduler);
    reader.Read("weight_decay", t.weight_decay);
    reader.Read("adam_beta1", t.adam_beta1);
    reader.Read("adam_beta2", t.adam_beta2);
    reader.Read("adam_epsilon", t.adam_epsilon);
    reader.Read("seed", t.seed);
    reader.Read("threads", t.threads);
    reader.Read("device", t.device);
    reader.Read("mixed_precision", t.mixed_precision);
    reader.Read("logging_steps", t.logging_steps);
    reader.Read("eval_steps", t.eval_steps);
    reader.Read("max_consecutive_skipped_steps", t.max_consecutive_skipped_steps);
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["reference"], "reference", &problems);
    reader.Read("mode", config.reference.mode);
    reader.Read("model", config.reference.model);
    reader.Read("precompute", config.reference.precompute);
    reader.Read("address", config.reference.address);
    reader.Read("fingerprint", config.reference.fingerprint);
    reader.Read("tls_ca", config.reference.tls_ca);
    reader.Read("tls_cert", config.reference.tls_cert);
    reader.Read("tls_key", config.reference.tls_key);
    reader.Read("auth_token_file", config.reference.auth_token_file);
    reader.Read("timeout_seconds", config.reference.timeout_seconds);
    reader.Read("retry_budget_seconds", config.reference.retry_budget_seconds);
    reader.Read("prefetch", config.reference.prefetch);
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["output"], "output", &problems);
    reader.Read("dir", config.output.dir);
    reader.Read("save_steps", config.output.save_steps);
    reader.Read("save_total_limit", config.output.save_total_limit);
    reader.Read("resume", config.output.resume);
    reader.Read("save_dtype", config.output.save_dtype);
    reader.Read("max_shard_size_mb", config.output.max_shard_size_mb);
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["metrics"], "metrics", &problems);
    reader.Read("progress", config.metrics.progress);
    reader.Read("prometheus_listen", config.metrics.prometheus_listen);
    reader.Read("prometheus_linger_seconds", config.metrics.prometheus_linger_seconds);
    reader.Read("drift_warning_nats", config.metrics.drift_warning_nats);
    reader.ReportUnknownKeys();
  }
  {
    YamlSectionReader reader(sections["distributed"], "distributed", &problems);
    reader.Read("timeout_seconds", config.distributed.timeout_seconds);
    reader.Read("bucket_mb", config.distributed.bucket_mb);
    reader.Read("overlap", config.distributed.overlap);
    reader.ReportUnknownKeys();
  }
  // Architecture keys only make sense for a random model.
  if (config.model.init != "random" && sections["model"].IsMap()) {
    for (const auto& entry : sections["model"]) {
      const std::string key = entry.first.Scalar();
      if (key != "init" && key != "seed" && key != "log_prob_chunk_tokens" && key != "gradient_checkpointing") {
        problems.push_back("model." + key + ": only allowed with model.init=random (the directory's config.json decides)");
      }
    }
  }

  config.model.init = ResolvePath(config.model.init, base_dir);
  config.data_train = ResolvePath(config.data_train, base_dir);
  config.data_eval = ResolvePath(config.data_eval, base_dir);
  config.reference.model = ResolvePath(config.reference.model, base_dir);
  for (std::string* path : {&config.reference.tls_ca, &config.reference.tls_cert, &config.reference.tls_key,
                            &config.reference.auth_token_file}) {
    *path = ResolvePath(*path, base_dir);
  }
  config.output.dir = ResolvePath(config.output.dir, base_dir);
  if (config.output.resume != "auto" && config.output.resume != "never") {
    config.output.resume = ResolvePath(config.output.resume, base_dir);
  }

  if (problems.empty()) {
    const auto value_problems = config.Validate();
    problems.insert(problems.end(), value_problems.begin(), value_problems.end());
  }
  if (!problems.empty()) {
    std::string message = origin + ": invalid job config (" + std::to_string(problems.size()) + " problems):";
    for (const auto& problem : problems) message += "\n  " + problem;
    throw InvalidInput(message);
  }
  return config;
}

std::vector<std::string> JobConfig::Validate() const {
  std::vector<std::string> problems = data.Validate();
  const auto add = [&](const std::vector<std::string>& more) { problems.insert(problems.end(), more.begin(), more.end()); };
  add(training.loss.Validate());
  if (data_train.empty()) problems.push_back("data.train: required (a preference JSONL file)");
  if (model.init == "random") {
    ModelConfig architecture = model.architecture;
    if (architecture.vocab_size == 0) architecture.vocab_size = 259;  // checked against the tokenizer later
    for (const auto& problem : architecture.Validate()) {
      if (problem.find("bos_token_id") == std::string::npos && problem.find("eos_token_id") == std::string::npos) {
        problems.push_back(problem);
      }
    }
  }
  if (model.log_prob_chunk_tokens < 1) problems.push_back("model.log_prob_chunk_tokens must be >= 1");
  const TrainingSection& t = training;
  const auto positive = [&](const char* key, double value) {
    if (!(value > 0)) problems.push_back(std::string("training.") + key + "=" + Number(value) + " must be > 0");
  };
  positive("learning_rate", t.learning_rate);
  positive("per_device_batch_size", static_cast<double>(t.per_device_batch_size));
  positive("gradient_accumulation_steps", static_cast<double>(t.gradient_accumulation_steps));
  positive("logging_steps", static_cast<double>(t.logging_steps));
  positive("adam_epsilon", t.adam_epsilon);
  positive("max_consecutive_skipped_steps", static_cast<double>(t.max_consecutive_skipped_steps));
  if (t.max_steps <= 0 && t.epochs <= 0) {
    problems.push_back("training.epochs=" + std::to_string(t.epochs) + " must be > 0 when training.max_steps is not set");
  }
  if (t.max_steps == 0 || t.max_steps < -1) {
    problems.push_back("training.max_steps=" + std::to_string(t.max_steps) + " must be > 0 (or -1: use epochs)");
  }
  if (t.warmup_steps < 0) problems.push_back("training.warmup_steps=" + std::to_string(t.warmup_steps) + " must be >= 0");
  if (t.eval_steps < 0) problems.push_back("training.eval_steps=" + std::to_string(t.eval_steps) + " must be >= 0");
  if (t.device != "cpu" && t.device != "cuda") {
    problems.push_back("training.device=\"" + t.device + "\" is not supported (supported: cpu, cuda)");
  }
  if (t.mixed_precision != "no" && t.mixed_precision != "bf16") {
    problems.push_back("training.mixed_precision=\"" + t.mixed_precision + "\" is not supported (supported: no, bf16)");
  } else if (t.mixed_precision == "bf16" && t.device != "cuda") {
    problems.push_back("training.mixed_precision=bf16 needs training.device=cuda");
  }
  if (t.threads < 0) problems.push_back("training.threads=" + std::to_string(t.threads) + " must be >= 0");
  if (t.weight_decay < 0) problems.push_back("training.weight_decay=" + Number(t.weight_decay) + " must be >= 0");
  for (const auto& [key, beta] : {std::pair{"adam_beta1", t.adam_beta1}, {"adam_beta2", t.adam_beta2}}) {
    if (!(beta >= 0 && beta < 1)) problems.push_back(std::string("training.") + key + "=" + Number(beta) + " must be in [0, 1)");
  }
  try {
    ParseLrScheduler(t.lr_scheduler);
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  if (reference.mode != "local" && reference.mode != "server") {
    problems.push_back("reference.mode=\"" + reference.mode + "\" is not supported (supported: local, server)");
  }
  if (reference.mode == "server") {
    if (reference.address.empty()) problems.push_back("reference.address: required with reference.mode=server");
    if (!reference.model.empty()) {
      problems.push_back("reference.model: only with reference.mode=local (the server decides the model)");
    }
    if (reference.tls_cert.empty() != reference.tls_key.empty()) {
      problems.push_back("reference.tls_cert and reference.tls_key: give both or neither");
    }
  }
  if (!(reference.timeout_seconds > 0)) {
    problems.push_back("reference.timeout_seconds=" + Number(reference.timeout_seconds) + " must be > 0");
  }
  if (!(reference.retry_budget_seconds >= 0)) {
    problems.push_back("reference.retry_budget_seconds=" + Number(reference.retry_budget_seconds) + " must be >= 0");
  }
  if (reference.prefetch < 0) problems.push_back("reference.prefetch=" + std::to_string(reference.prefetch) + " must be >= 0");
  if (output.dir.empty()) problems.push_back("output.dir: required");
  static const std::vector<std::string> kSaveDtypes = {"auto", "float32", "bfloat16", "float16"};
  if (std::find(kSaveDtypes.begin(), kSaveDtypes.end(), output.save_dtype) == kSaveDtypes.end()) {
    problems.push_back("output.save_dtype=\"" + output.save_dtype +
                       "\" is not supported (supported: auto, float32, bfloat16, float16)");
  }
  if (output.max_shard_size_mb < 1) {
    problems.push_back("output.max_shard_size_mb=" + std::to_string(output.max_shard_size_mb) + " must be >= 1");
  }
  if (output.save_steps < 0) problems.push_back("output.save_steps=" + std::to_string(output.save_steps) + " must be >= 0");
  if (output.save_total_limit < 0) {
    problems.push_back("output.save_total_limit=" + std::to_string(output.save_total_limit) + " must be >= 0");
  }
  if (metrics.progress != "auto" && metrics.progress != "always" && metrics.progress != "never") {
    problems.push_back("metrics.progress=\"" + metrics.progress + "\" must be one of: auto, always, never");
  }
  {
    const auto colon = metrics.prometheus_listen.rfind(':');
    const std::string port = colon == std::string::npos ? "" : metrics.prometheus_listen.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
      problems.push_back("metrics.prometheus_listen=\"" + metrics.prometheus_listen +
                         "\" must be HOST:PORT with PORT in [0, 65535] (0 disables)");
    }
  }
  if (!(metrics.prometheus_linger_seconds >= 0 && metrics.prometheus_linger_seconds <= 3600)) {
    problems.push_back("metrics.prometheus_linger_seconds=" + Number(metrics.prometheus_linger_seconds) +
                       " must be in [0, 3600]");
  }
  if (!(metrics.drift_warning_nats >= 0)) {
    problems.push_back("metrics.drift_warning_nats=" + Number(metrics.drift_warning_nats) + " must be >= 0 (0 disables)");
  }
  if (!(distributed.timeout_seconds >= 0)) {
    problems.push_back("distributed.timeout_seconds=" + Number(distributed.timeout_seconds) + " must be >= 0 (0 disables)");
  }
  if (!(distributed.bucket_mb > 0 && distributed.bucket_mb <= 4096)) {
    problems.push_back("distributed.bucket_mb=" + Number(distributed.bucket_mb) + " must be in (0, 4096]");
  }
  return problems;
}

std::string JobConfig::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "init" << YAML::Value << model.init;
  out << YAML::Key << "seed" << YAML::Value << model.seed;
  out << YAML::Key << "log_prob_chunk_tokens" << YAML::Value << model.log_prob_chunk_tokens;
  out << YAML::Key << "gradient_checkpointing" << YAML::Value << model.gradient_checkpointing;
  if (model.init == "random") {
    nlohmann::json architecture = model.architecture.ToHfJson();
    for (const char* derived : {"architectures", "torch_dtype", "bos_token_id", "eos_token_id", "n_ctx"}) {
      architecture.erase(derived);  // set from the tokenizer and the family when the model is built
    }
    const YAML::Node fields = YAML::Load(architecture.dump());
    for (const auto& field : fields) out << YAML::Key << field.first << YAML::Value << field.second;
  }
  out << YAML::EndMap;
  out << YAML::Key << "tokenizer" << YAML::Value << YAML::BeginMap << YAML::Key << "type" << YAML::Value << tokenizer
      << YAML::EndMap;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "train" << YAML::Value << data_train << YAML::Key << "eval" << YAML::Value << data_eval;
  out << YAML::Key << "max_length" << YAML::Value << data.max_length << YAML::Key << "max_prompt_length" << YAML::Value
      << data.max_prompt_length << YAML::Key << "truncation_mode" << YAML::Value
      << TruncationModeName(data.truncation_mode) << YAML::Key << "on_bad_row" << YAML::Value
      << BadRowPolicyName(data.on_bad_row) << YAML::Key << "max_reported_problems" << YAML::Value
      << data.max_reported_problems << YAML::Key << "chat_template" << YAML::Value
      << ChatTemplateKindName(data.chat_template);
  out << YAML::EndMap;
  const TrainingSection& t = training;
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "loss_type" << YAML::Value << YAML::Flow << t.loss.loss_type;
  out << YAML::Key << "loss_weights" << YAML::Value << YAML::Flow << t.loss.loss_weights;
  out << YAML::Key << "beta" << YAML::Value << t.loss.beta << YAML::Key << "label_smoothing" << YAML::Value
      << t.loss.label_smoothing << YAML::Key << "simpo_gamma" << YAML::Value << t.loss.simpo_gamma << YAML::Key
      << "discopop_tau" << YAML::Value << t.loss.discopop_tau << YAML::Key << "rpo_alpha" << YAML::Value
      << t.loss.rpo_alpha;
  out << YAML::Key << "learning_rate" << YAML::Value << t.learning_rate << YAML::Key << "max_steps" << YAML::Value
      << t.max_steps << YAML::Key << "epochs" << YAML::Value << t.epochs << YAML::Key << "per_device_batch_size"
      << YAML::Value << t.per_device_batch_size << YAML::Key << "gradient_accumulation_steps" << YAML::Value
      << t.gradient_accumulation_steps << YAML::Key << "max_grad_norm" << YAML::Value << t.max_grad_norm
      << YAML::Key << "warmup_steps" << YAML::Value << t.warmup_steps << YAML::Key << "lr_scheduler" << YAML::Value
      << t.lr_scheduler << YAML::Key << "weight_decay" << YAML::Value << t.weight_decay << YAML::Key << "adam_beta1"
      << YAML::Value << t.adam_beta1 << YAML::Key << "adam_beta2" << YAML::Value << t.adam_beta2 << YAML::Key
      << "adam_epsilon" << YAML::Value << t.adam_epsilon << YAML::Key << "seed" << YAML::Value << t.seed << YAML::Key
      << "threads" << YAML::Value << t.threads << YAML::Key << "device" << YAML::Value << t.device << YAML::Key
      << "mixed_precision" << YAML::Value << t.mixed_precision << YAML::Key << "logging_steps" << YAML::Value << t.logging_steps
      << YAML::Key << "eval_steps" << YAML::Value << t.eval_steps << YAML::Key << "max_consecutive_skipped_steps"
      << YAML::Value << t.max_consecutive_skipped_steps;
  out << YAML::EndMap;
  out << YAML::Key << "reference" << YAML::Value << YAML::BeginMap << YAML::Key << "mode" << YAML::Value
      << reference.mode << YAML::Key << "model" << YAML::Value << reference.model << YAML::Key << "precompute"
      << YAML::Value << reference.precompute << YAML::Key << "address" << YAML::Value << reference.address
      << YAML::Key << "fingerprint" << YAML::Value << reference.fingerprint << YAML::Key << "tls_ca" << YAML::Value
      << reference.tls_ca << YAML::Key << "tls_cert" << YAML::Value << reference.tls_cert << YAML::Key << "tls_key"
      << YAML::Value << reference.tls_key << YAML::Key << "auth_token_file" << YAML::Value << reference.auth_token_file
      << YAML::Key << "timeout_seconds" << YAML::Value << reference.timeout_seconds << YAML::Key
      << "retry_budget_seconds" << YAML::Value << reference.retry_budget_seconds << YAML::Key << "prefetch"
      << YAML::Value << reference.prefetch << YAML::EndMap;
  out << YAML::Key << "output" << YAML::Value << YAML::BeginMap << YAML::Key << "dir" << YAML::Value << output.dir
      << YAML::Key << "save_steps" << YAML::Value << output.save_steps << YAML::Key << "save_total_limit"
      << YAML::Value << output.save_total_limit << YAML::Key << "resume" << YAML::Value << output.resume
      << YAML::Key << "save_dtype" << YAML::Value << output.save_dtype << YAML::Key << "max_shard_size_mb"
      << YAML::Value << output.max_shard_size_mb << YAML::EndMap;
  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap << YAML::Key << "progress" << YAML::Value
      << metrics.progress << YAML::Key << "prometheus_listen" << YAML::Value << metrics.prometheus_listen << YAML::Key << "prometheus_linger_seconds" << YAML::Value
      << metrics.prometheus_linger_seconds << YAML::Key
      << "drift_warning_nats" << YAML::Value << metrics.drift_warning_nats << YAML::EndMap;
  out << YAML::Key << "distributed" << YAML::Value << YAML::BeginMap << YAML::Key << "timeout_seconds" << YAML::Value
      << distributed.timeout_seconds << YAML::Key << "bucket_mb" << YAML::Value << distributed.bucket_mb << YAML::Key
      << "overlap" << YAML::Value << distributed.overlap << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string JobConfig::TrainingHash() const {
  JobConfig math = *this;
  math.output = OutputSection{};
  math.metrics = MetricsSection{};
  math.distributed = DistributedSection{};
  // The loss is the mean over the global batch however it is split (checked on resume).
  math.training.per_device_batch_size = TrainingSection{}.per_device_batch_size;
  math.training.gradient_accumulation_steps = TrainingSection{}.gradient_accumulation_steps;
  math.training.device = TrainingSection{}.device;  // the same math on other hardware
  math.model.gradient_checkpointing = false;        // recomputes the same activations
  // Where and how the reference is reached does not change the math; which model it is, is
  // checked by its fingerprint.
  const ReferenceSection reference = math.reference;
  math.reference = ReferenceSection{};
  math.reference.model = reference.model;
  math.reference.precompute = reference.precompute;
  return Sha256Hex(math.ToYaml());
}

}  // namespace dpo
