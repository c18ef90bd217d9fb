// The key table behind both the flags and the YAML file, and the CLI11 wiring.
#include "reference_server/app/server_config.h"

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <variant>

#include "core/common/error.h"

namespace dpo {
namespace {

using Field = std::variant<std::string*, int64_t*, uint64_t*>;

struct Key {
  const char* name;  // YAML key; the flag is "--" + name with '_' -> '-'
  const char* help;
  bool is_path;      // resolved against the config file's directory
  bool precompute;   // also a flag of `precompute`
  Field (*field)(ServerOptions&);
};

// clang-format off
const Key kKeys[] = {
  {"model", "reference model directory (config.json, model.safetensors)", true, true, [](ServerOptions& o) -> Field { return &o.model_dir; }},
  {"tokenizer", "tokenizer spec when the model directory records none", false, false, [](ServerOptions& o) -> Field { return &o.tokenizer; }},
  {"listen", "HOST:PORT of the service", false, false, [](ServerOptions& o) -> Field { return &o.listen; }},
  {"health_listen", "HOST:PORT of a plaintext health-only port for probes", false, false, [](ServerOptions& o) -> Field { return &o.health_listen; }},
  {"metrics_listen", "HOST:PORT of the Prometheus /metrics endpoint (plain HTTP)", false, false, [](ServerOptions& o) -> Field { return &o.metrics_listen; }},
  {"cache_dir", "score cache directory (LMDB), created if missing", true, true, [](ServerOptions& o) -> Field { return &o.cache_dir; }},
  {"cache_map_size_bytes", "cache size limit in bytes", false, true, [](ServerOptions& o) -> Field { return &o.cache_map_size_bytes; }},
  {"cache_lru_entries", "in-memory cache entries in front of LMDB", false, false, [](ServerOptions& o) -> Field { return &o.cache_lru_entries; }},
  {"cache_sync", "durable | no_meta_sync | no_sync (what an OS crash may lose)", false, true, [](ServerOptions& o) -> Field { return &o.cache_sync; }},
  {"max_batch_tokens", "padded tokens per forward", false, true, [](ServerOptions& o) -> Field { return &o.batcher.max_batch_tokens; }},
  {"max_wait_ms", "longest a request waits for its batch to fill", false, false, [](ServerOptions& o) -> Field { return &o.batcher.max_wait_ms; }},
  {"max_queued_requests", "waiting requests before RESOURCE_EXHAUSTED", false, false, [](ServerOptions& o) -> Field { return &o.batcher.max_queued_requests; }},
  {"max_request_tokens", "tokens per Score request", false, false, [](ServerOptions& o) -> Field { return &o.max_request_tokens; }},
  {"log_prob_chunk_tokens", "completion tokens per output-projection chunk", false, true, [](ServerOptions& o) -> Field { return &o.batcher.log_probs.chunk_tokens; }},
  {"threads", "LibTorch intra-op threads", false, true, [](ServerOptions& o) -> Field { return &o.threads; }},
  {"max_message_bytes", "gRPC receive/send message limit", false, false, [](ServerOptions& o) -> Field { return &o.max_message_bytes; }},
  {"drain_timeout_ms", "on SIGTERM, longest in-flight calls may take", false, false, [](ServerOptions& o) -> Field { return &o.drain_timeout_ms; }},
  {"tls_cert", "PEM certificate chain: enables TLS (with tls_key)", true, false, [](ServerOptions& o) -> Field { return &o.tls.cert_file; }},
  {"tls_key", "PEM private key of tls_cert", true, false, [](ServerOptions& o) -> Field { return &o.tls.key_file; }},
  {"tls_client_ca", "PEM CA: require and verify client certificates (mTLS)", true, false, [](ServerOptions& o) -> Field { return &o.tls.client_ca_file; }},
  {"auth_token_file", "file holding the bearer token every dpo.v1 call must carry", true, false, [](ServerOptions& o) -> Field { return &o.auth_token_file; }},
  {"debug_load_delay_ms", "testing: sleep before loading the model", false, false, [](ServerOptions& o) -> Field { return &o.debug_load_delay_ms; }},
  {"debug_forward_delay_ms", "testing: sleep inside every forward", false, false, [](ServerOptions& o) -> Field { return &o.batcher.debug_forward_delay_ms; }},
};
// clang-format on

std::string FlagName(const char* key) {
  std::string flag = std::string("--") + key;
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

// The field's value as a flag would spell it.
std::string FieldText(const Field& field) {
  if (auto* const* value = std::get_if<std::string*>(&field)) return **value;
  if (auto* const* value = std::get_if<uint64_t*>(&field)) return std::to_string(**value);
  return std::to_string(*std::get<int64_t*>(field));
}

// Parses `text` into the field; on failure returns the problem ("" when set).
std::string SetField(const Field& field, const std::string& text) {
  if (auto* const* value = std::get_if<std::string*>(&field)) {
    **value = text;
    return "";
  }
  const bool is_unsigned = std::holds_alternative<uint64_t*>(field);
  std::size_t used = 0;
  try {
    if (is_unsigned) {
      if (text.empty() || text[0] == '-') throw std::invalid_argument("negative");
      const uint64_t parsed = std::stoull(text, &used);
      if (used == text.size()) *std::get<uint64_t*>(field) = parsed;
    } else {
      const int64_t parsed = std::stoll(text, &used);
      if (used == text.size()) *std::get<int64_t*>(field) = parsed;
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) {
    return "\"" + text + "\" is not " + (is_unsigned ? "a non-negative integer" : "an integer");
  }
  return "";
}

}  // namespace

void ApplyServerConfigText(const std::string& yaml_text, const std::string& origin, const std::string& base_dir,
                           ServerOptions* options) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InvalidInput(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw InvalidInput(origin + ": expected a mapping of keys (e.g. \"listen: 127.0.0.1:50051\")");
  std::vector<std::string> problems;
  for (const auto& entry : root) {
    const std::string name = entry.first.as<std::string>();
    const Key* key = nullptr;
    for (const Key& candidate : kKeys) {
      if (name == candidate.name) key = &candidate;
    }
    if (key == nullptr) {
      problems.push_back(origin + ": " + name + ": unknown key");
      continue;
    }
    if (entry.second.IsNull()) continue;  // `key:` or `key: ~` keeps the default
    if (!entry.second.IsScalar()) {
      problems.push_back(origin + ": " + name + ": expected a single value");
      continue;
    }
    std::string text = entry.second.Scalar();
    if (key->is_path && !text.empty() && std::filesystem::path(text).is_relative()) {
      text = (std::filesystem::path(base_dir) / text).lexically_normal().string();
    }
    const std::string problem = SetField(key->field(*options), text);
    if (!problem.empty()) problems.push_back(origin + ": " + name + ": " + problem);
  }
  if (!problems.empty()) {
    std::string message = std::to_string(problems.size()) + " problem(s) in the server config:";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw InvalidInput(message);
  }
}

void ApplyServerConfigFile(const std::string& path, ServerOptions* options) {
  std::ifstream in(path);
  if (!in) throw InvalidInput(path + ": cannot read the server config");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  ApplyServerConfigText(text.str(), path, base_dir.empty() ? "." : base_dir, options);
}

CommandLine ParseCommandLine(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"dpo-reference-server: reference log-probs over gRPC (dpo.v1.ReferenceModel)", "dpo-reference-server"};
  std::string config_path;
  app.add_option("--config", config_path, "YAML file with the same keys as the flags (flags win)");
  CLI::App* precompute = app.add_subcommand("precompute", "fill the cache from a dpo-train job's data sets");
  CommandLine command;
  precompute->add_option("--config", command.precompute.job_config, "the dpo-train job file (YAML)")->required();
  precompute->add_option("--set", command.precompute.overrides, "override a job key: section.key=value (repeatable)");

  std::map<std::string, std::string> serve_values;
  std::map<std::string, std::string> precompute_values;
  std::vector<std::pair<const Key*, CLI::Option*>> serve_flags;
  std::vector<std::pair<const Key*, CLI::Option*>> precompute_flags;
  ServerOptions defaults;  // each key's value type and default, for the help text
  for (const Key& key : kKeys) {
    const Field field = key.field(defaults);
    const char* type = std::holds_alternative<std::string*>(field) ? (key.is_path ? "PATH" : "TEXT") : "INT";
    const std::string value = FieldText(field);
    const std::string help = std::string(key.help) + (value.empty() ? "" : " (default " + value + ")");
    serve_flags.emplace_back(&key, app.add_option(FlagName(key.name), serve_values[key.name], help)->type_name(type));
    if (key.precompute) {
      precompute_flags.emplace_back(
          &key, precompute->add_option(FlagName(key.name), precompute_values[key.name], help)->type_name(type));
    }
  }
  precompute_flags.front().second->required();  // --model

  auto fail = [&](const std::string& message) {
    err << "dpo-reference-server: " << message << "\n";
    command.mode = CommandLine::Mode::kExit;
    command.exit_code = 2;
    return command;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    command.mode = CommandLine::Mode::kExit;
    command.exit_code = code == 0 ? 0 : 2;
    return command;
  }
  const bool precomputing = precompute->parsed();
  ServerOptions& options = precomputing ? command.precompute.server : command.server;
  try {
    if (!config_path.empty()) ApplyServerConfigFile(config_path, &options);
  } catch (const Error& e) {
    return fail(e.what());
  }
  std::vector<std::string> problems;
  for (const auto& [key, option] : precomputing ? precompute_flags : serve_flags) {
    if (option->count() == 0) continue;
    const std::string& text = (precomputing ? precompute_values : serve_values)[key->name];
    const std::string problem = SetField(key->field(options), text);
    if (!problem.empty()) problems.push_back(FlagName(key->name) + ": " + problem);
  }
  if (!problems.empty()) {
    std::string message = "bad flags:";
    for (const std::string& problem : problems) message += "\n  " + problem;
    return fail(message);
  }
  command.mode = precomputing ? CommandLine::Mode::kPrecompute : CommandLine::Mode::kServe;
  return command;
}

}  // namespace dpo
