// JobConfig: YAML -> typed sections (with overrides), validation, and the resolved YAML.
#include "job/job_config.h"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <type_traits>
#include <variant>

#include <yaml-cpp/yaml.h>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "core/common/sha256.h"
#include "job/job_fields.h"
#include "job/yaml_reader.h"

namespace dpo {
namespace {

bool IsSpecialPathValue(const std::string& value) {
  return value.empty() || value == kRandomInit || value == "auto" || value == "never";
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (IsSpecialPathValue(path) || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

bool IsSection(const std::string& name) {
  const std::vector<std::string>& sections = JobSections();
  return std::find(sections.begin(), sections.end(), name) != sections.end();
}

std::string SectionList() {
  std::string list;
  for (const std::string& section : JobSections()) list += (list.empty() ? "" : ", ") + section;
  return list;
}

// Applies "a.b=value" to the document; the value is parsed as YAML (scalars, [lists]). A
// relative path on the command line means one relative to the working directory.
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
  if (!IsSection(section)) {
    problems->push_back("--set " + assignment + ": unknown section \"" + section + "\"");
    return;
  }
  const JobField* field = FindJobField(section, key);
  try {
    if (!root[section].IsMap()) root[section] = YAML::Node(YAML::NodeType::Map);
    if (field != nullptr && field->is_path && !IsSpecialPathValue(value) && std::filesystem::path(value).is_relative()) {
      root[section][key] = std::filesystem::absolute(value).lexically_normal().string();
    } else {
      root[section][key] = YAML::Load(value);
    }
  } catch (const YAML::Exception& e) {
    problems->push_back("--set " + assignment + ": invalid value: " + e.msg);
  }
}

// Reads one field of the table from its section.
void ReadField(YamlSectionReader& reader, const JobField& field, JobConfig& config, std::vector<std::string>* problems) {
  FieldRef member = field.member(config);
  if (auto* choice = std::get_if<NamedChoice>(&member)) {
    std::string name = choice->get();
    const std::string before = name;
    reader.Read(field.key, name);
    if (name == before) return;
    if (std::string problem = choice->set(name); !problem.empty()) problems->push_back(problem);
    return;
  }
  std::visit(
      [&reader, &field](auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_pointer_v<T>) reader.Read(field.key, *value);
      },
      member);
}

// The model section's keys other than the table's: the architecture of a random model, in the
// config.json names of its model_type (default gpt2). vocab_size left out = the tokenizer's.
void ReadArchitecture(YamlSectionReader& reader, ModelConfig& architecture, std::vector<std::string>* problems) {
  const nlohmann::json fields = reader.TakeRemainingAsJson();
  architecture = ModelConfig::ParseHfJson(fields, ModelConfig::UnknownFields::kReject, "model.", problems);
  if (!fields.contains("vocab_size")) architecture.vocab_size = 0;
}

// Writes one field as `key: value` (lists inline), with its doc as a comment when asked.
void EmitField(YAML::Emitter& out, const JobField& field, JobConfig& config, bool with_doc) {
  out << YAML::Key << field.key << YAML::Value;
  FieldRef member = field.member(config);
  if (auto* choice = std::get_if<NamedChoice>(&member)) {
    out << choice->get();
  } else if (auto* strings = std::get_if<std::vector<std::string>*>(&member)) {
    out << YAML::Flow << **strings;
  } else if (auto* numbers = std::get_if<std::vector<double>*>(&member)) {
    out << YAML::Flow << **numbers;
  } else {
    std::visit(
        [&out](auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_pointer_v<T>) out << *value;
        },
        member);
  }
  if (with_doc) out << YAML::Comment(field.doc);
}

// The resolved configuration, every key in table order; a random model's architecture follows
// the model section's own keys.
// `for_hash`: every field at its TrainingHashRole (the caller has reset kDefault fields).
std::string EmitYaml(const JobConfig& config, bool with_docs, bool for_hash = false) {
  // The table's accessors take a mutable config; emitting only reads through them.
  JobConfig& readable = const_cast<JobConfig&>(config);
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const std::string& section : JobSections()) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const JobField& field : JobFields()) {
      if (section != field.section || (for_hash && field.hash == TrainingHashRole::kLeftOut)) continue;
      EmitField(out, field, readable, with_docs);
    }
    if (section == "model" && config.model.random_init()) {
      nlohmann::json architecture = config.model.architecture.ToHfJson();
      for (const char* derived : {"architectures", "torch_dtype", "bos_token_id", "eos_token_id", "n_ctx"}) {
        architecture.erase(derived);  // set from the tokenizer and the family when the model is built
      }
      const YAML::Node fields = YAML::Load(architecture.dump());
      for (const auto& field : fields) out << YAML::Key << field.first << YAML::Value << field.second;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// Sets `field` of `to` to its value in `from`.
void CopyField(const JobField& field, JobConfig& from, JobConfig& to) {
  FieldRef source = field.member(from);
  FieldRef target = field.member(to);
  if (auto* choice = std::get_if<NamedChoice>(&target)) {
    choice->set(std::get<NamedChoice>(source).get());
    return;
  }
  std::visit(
      [&target](auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_pointer_v<T>) *std::get<T>(target) = *value;
      },
      source);
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
  if (!root.IsMap()) throw InvalidInput(origin + ": expected a mapping of sections (" + SectionList() + ")");

  std::vector<std::string> problems;
  for (const auto& assignment : overrides) ApplyOverride(root, assignment, &problems);
  std::vector<std::string> seen_sections;
  for (const auto& entry : root) {
    const std::string name = entry.first.Scalar();
    if (std::find(seen_sections.begin(), seen_sections.end(), name) != seen_sections.end()) {
      problems.push_back(name + ": section appears more than once (YAML keys must be unique)");
    }
    seen_sections.push_back(name);
    if (!IsSection(name)) problems.push_back(name + ": unknown section (known: " + SectionList() + ")");
  }

  const YAML::Node& sections = root;  // const: operator[] must not insert absent sections
  JobConfig config;
  for (const std::string& section : JobSections()) {
    YamlSectionReader reader(sections[section], section, &problems);
    for (const JobField& field : JobFields()) {
      if (section == field.section) ReadField(reader, field, config, &problems);
    }
    if (section == "model") {
      if (config.model.random_init()) {
        ReadArchitecture(reader, config.model.architecture, &problems);
      } else if (sections["model"].IsMap()) {
        // Architecture keys only make sense for a random model.
        const nlohmann::json refused = reader.TakeRemainingAsJson();
        for (const auto& entry : refused.items()) {
          problems.push_back("model." + entry.key() +
                             ": only allowed with model.init=random (the directory's config.json decides)");
        }
      }
    }
    reader.ReportUnknownKeys();
  }
  for (const JobField& field : JobFields()) {
    FieldRef member = field.member(config);
    if (auto* path = std::get_if<std::string*>(&member); path != nullptr && field.is_path) {
      **path = ResolvePath(**path, base_dir);
    }
  }

  if (problems.empty()) {
    const auto value_problems = config.Validate();
    problems.insert(problems.end(), value_problems.begin(), value_problems.end());
  }
  ThrowIfProblems(origin + ": invalid job config (" + std::to_string(problems.size()) + " problems):", problems);
  return config;
}

std::vector<std::string> JobConfig::Validate() const {
  std::vector<std::string> problems = data.Validate();
  const auto add = [&](const std::vector<std::string>& more) { problems.insert(problems.end(), more.begin(), more.end()); };
  add(training.loss.Validate());
  if (data_train.empty()) problems.push_back("data.train: required (a preference JSONL file)");
  if (model.random_init()) {
    ModelConfig architecture = model.architecture;
    if (architecture.vocab_size == 0) architecture.vocab_size = 259;  // checked against the tokenizer later
    for (const auto& problem : architecture.Validate()) {
      if (problem.find("bos_token_id") == std::string::npos && problem.find("eos_token_id") == std::string::npos) {
        problems.push_back(problem);
      }
    }
  }
  if (model.log_probs.chunk_tokens < 1) problems.push_back("model.log_prob_chunk_tokens must be >= 1");
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
  if (t.mixed_precision == MixedPrecision::kBf16 && t.device != DeviceKind::kCuda) {
    problems.push_back("training.mixed_precision=bf16 needs training.device=cuda");
  }
  if (t.threads < 0) problems.push_back("training.threads=" + std::to_string(t.threads) + " must be >= 0");
  if (t.weight_decay < 0) problems.push_back("training.weight_decay=" + Number(t.weight_decay) + " must be >= 0");
  for (const auto& [key, beta] : {std::pair{"adam_beta1", t.adam_beta1}, {"adam_beta2", t.adam_beta2}}) {
    if (!(beta >= 0 && beta < 1)) problems.push_back(std::string("training.") + key + "=" + Number(beta) + " must be in [0, 1)");
  }
  const RemoteReferenceOptions& server = reference.server;
  if (reference.mode == ReferenceMode::kServer) {
    if (server.address.empty()) problems.push_back("reference.address: required with reference.mode=server");
    if (server.expected_fingerprint.empty() && !server.accept_any_model) {
      problems.push_back("reference.fingerprint: required with reference.mode=server (the fingerprint "
                         "dpo-reference-server prints for its model), so that the run cannot train against another "
                         "model; or set reference.accept_any_model=true");
    }
    if (!reference.model.empty()) {
      problems.push_back("reference.model: only with reference.mode=local (the server decides the model)");
    }
    if (server.tls_cert_file.empty() != server.tls_key_file.empty()) {
      problems.push_back("reference.tls_cert and reference.tls_key: give both or neither");
    }
  }
  if (!(server.call_timeout_seconds > 0)) {
    problems.push_back("reference.timeout_seconds=" + Number(server.call_timeout_seconds) + " must be > 0");
  }
  if (!(server.retry_budget_seconds >= 0)) {
    problems.push_back("reference.retry_budget_seconds=" + Number(server.retry_budget_seconds) + " must be >= 0");
  }
  if (server.prefetch_window < 0) {
    problems.push_back("reference.prefetch=" + std::to_string(server.prefetch_window) + " must be >= 0");
  }
  if (output.dir.empty()) problems.push_back("output.dir: required");
  if (output.max_shard_size_mb < 1) {
    problems.push_back("output.max_shard_size_mb=" + std::to_string(output.max_shard_size_mb) + " must be >= 1");
  }
  if (output.save_steps < 0) problems.push_back("output.save_steps=" + std::to_string(output.save_steps) + " must be >= 0");
  if (output.save_total_limit < 0) {
    problems.push_back("output.save_total_limit=" + std::to_string(output.save_total_limit) + " must be >= 0");
  } else if (output.save_total_limit == 1) {
    problems.push_back("output.save_total_limit=1 keeps no checkpoint to fall back to when the newest is damaged: use 0 "
                       "(keep all) or >= 2");
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
  if (distributed.zero_stage < 0 || distributed.zero_stage > 2) {
    problems.push_back("distributed.zero_stage=" + std::to_string(distributed.zero_stage) + " must be 0, 1 or 2");
  }
  if (!(distributed.bucket_mb > 0 && distributed.bucket_mb <= 4096)) {
    problems.push_back("distributed.bucket_mb=" + Number(distributed.bucket_mb) + " must be in (0, 4096]");
  }
  return problems;
}

std::string JobConfig::ToYaml() const { return EmitYaml(*this, /*with_docs=*/false); }

std::string JobConfig::ToDocumentedYaml() const { return EmitYaml(*this, /*with_docs=*/true); }

std::string JobConfig::TrainingHash() const {
  // The settings outside the hash take their defaults or are left out (TrainingHashRole).
  JobConfig math = *this;
  JobConfig defaults;
  for (const JobField& field : JobFields()) {
    if (field.hash == TrainingHashRole::kDefault) CopyField(field, defaults, math);
  }
  return Sha256Hex(EmitYaml(math, /*with_docs=*/false, /*for_hash=*/true));
}

}  // namespace dpo
