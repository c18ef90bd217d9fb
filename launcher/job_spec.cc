// JobSpec from the job file: trainer validation, plus the one case only dpo-launch completes.
#include "launcher/job_spec.h"

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "core/common/error.h"
#include "job/job_config.h"

namespace dpo {
namespace {

// reference.mode as written in the file, after the overrides: the trainer's loader refuses a
// server job without an address, so the launcher must see the mode before that check.
std::string WrittenReferenceMode(const std::string& path, const std::vector<std::string>& overrides) {
  std::string mode = "local";
  try {
    const YAML::Node root = YAML::LoadFile(path);
    // const lookups of absent keys give invalid nodes: test IsDefined before anything else.
    const YAML::Node section = root.IsMap() ? root["reference"] : YAML::Node();
    const YAML::Node node = section.IsDefined() && section.IsMap() ? section["mode"] : YAML::Node();
    if (node.IsDefined() && node.IsScalar()) mode = node.Scalar();
  } catch (const YAML::Exception&) {
    // The trainer's loader reports the same problem with its place.
  }
  const std::string prefix = "reference.mode=";
  for (const auto& assignment : overrides) {
    if (assignment.rfind(prefix, 0) != 0) continue;
    try {
      mode = YAML::Load(assignment.substr(prefix.size())).Scalar();
    } catch (const YAML::Exception&) {
      // As above.
    }
  }
  return mode;
}

std::vector<std::string> With(std::vector<std::string> overrides, const std::vector<std::string>& more) {
  overrides.insert(overrides.end(), more.begin(), more.end());
  return overrides;
}

}  // namespace

JobSpec LoadJobSpec(const std::string& config_path, const std::vector<std::string>& overrides) {
  JobSpec spec;
  spec.config_path = std::filesystem::absolute(config_path).lexically_normal().string();
  spec.overrides = overrides;
  // Read as a local-reference job first: resolves reference.model like a model path and checks
  // everything but the server-mode rules.
  const JobConfig local = JobConfig::Load(spec.config_path, With(overrides, {"reference.mode=local"}));
  spec.reference_mode = WrittenReferenceMode(spec.config_path, overrides);
  spec.reference_address = local.reference.server.address;
  spec.reference_model = local.reference.model;
  spec.reference_fingerprint = local.reference.server.expected_fingerprint;
  spec.model_init = local.model.init;
  spec.output_dir = local.output.dir;
  const RemoteReferenceOptions& r = local.reference.server;
  spec.reference_client_security =
      !r.tls_ca_file.empty() || !r.tls_cert_file.empty() || !r.tls_key_file.empty() || !r.auth_token_file.empty();
  if (spec.reference_mode == "server" && spec.reference_address.empty()) {
    // As the ranks will run it: any address and fingerprint will do for validation.
    std::vector<std::string> completed = {"reference.address=127.0.0.1:1", "reference.model="};
    if (spec.reference_fingerprint.empty()) completed.push_back("reference.fingerprint=of-the-started-server");
    JobConfig::Load(spec.config_path, With(overrides, completed));
  } else {
    JobConfig::Load(spec.config_path, overrides);
  }
  return spec;
}

}  // namespace dpo
