// dpo-train: one rank of a DPO job (world size 1 when started alone).
//   dpo-train --config job.yaml [--set section.key=value ...] [--print-config] [--dry-run]
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/common/error.h"
#include "core/common/run_main.h"
#include "trainer/comm/communicator.h"
#include "trainer/config/job_config.h"
#include "trainer/loop/trainer.h"
#if DPO_WITH_GRPC
#include "trainer/reference/remote/remote_reference_scorer.h"
#endif

namespace {

dpo::RemoteReferenceFactory RemoteReference() {
#if DPO_WITH_GRPC
  return [](const dpo::ReferenceSection& section) -> std::unique_ptr<dpo::ReferenceScorer> {
    dpo::RemoteReferenceOptions options;
    options.address = section.address;
    options.tls_ca_file = section.tls_ca;
    options.tls_cert_file = section.tls_cert;
    options.tls_key_file = section.tls_key;
    options.auth_token_file = section.auth_token_file;
    options.expected_fingerprint = section.fingerprint;
    options.call_timeout_seconds = section.timeout_seconds;
    options.retry_budget_seconds = section.retry_budget_seconds;
    options.prefetch_window = static_cast<int>(section.prefetch);
    return std::make_unique<dpo::RemoteReferenceScorer>(options);
  };
#else
  return {};
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dpo-train: Direct Preference Optimization, one rank"};
  std::string config_path;
  std::vector<std::string> overrides;
  bool print_config = false;
  bool dry_run = false;
  app.add_option("--config", config_path, "job file (YAML)")->required();
  app.add_option("--set", overrides, "override one key: section.key=value (repeatable)");
  app.add_flag("--print-config", print_config, "print the resolved configuration and exit");
  app.add_flag("--dry-run", dry_run, "validate config and data, print the plan, do not train");
  CLI11_PARSE(app, argc, argv);

  return dpo::RunMain("dpo-train", [&] {
    const dpo::JobConfig config = dpo::JobConfig::Load(config_path, overrides);
    if (print_config) {
      std::cout << config.ToYaml();
      return 0;
    }
    dpo::SingleProcessCommunicator communicator;
    dpo::Trainer trainer(config, communicator, RemoteReference());
    if (dry_run) {
      trainer.DryRun(std::cout);
      return 0;
    }
    return trainer.Run();
  });
}
