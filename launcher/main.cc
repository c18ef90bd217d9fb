// dpo-launch: runs a DPO job on N ranks with mpirun, with a local reference server when the
// job asks for one (reference.mode=server without an address); supervises and stops them.
//   dpo-launch --config job.yaml [--nproc N] [--hostfile FILE] [--dry-run] [--set k=v ...]
//              [--grace-period S] [--reference-timeout S] [-- extra mpirun args]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "core/common/run_main.h"
#include "launcher/launch.h"

int main(int argc, char** argv) {
  // Everything after the first `--` goes to mpirun untouched.
  std::vector<std::string> args(argv + 1, argv + argc);
  const auto separator = std::find(args.begin(), args.end(), "--");
  dpo::LaunchOptions options;
  if (separator != args.end()) options.mpirun_args.assign(separator + 1, args.end());
  args.erase(separator, args.end());
  std::reverse(args.begin(), args.end());  // CLI11 parses a vector from its back

  CLI::App app{"dpo-launch: run a DPO job on N ranks with mpirun (and a local reference server when needed)"};
  app.add_option("--config", options.config_path, "job file (YAML)")->required();
  app.name("dpo-launch");
  app.add_option("--nproc", options.nproc, "number of ranks (checked with the plan)")->default_val(1);
  app.add_option("--threads-per-rank", options.threads_per_rank,
                 "OMP/OpenBLAS threads of every rank (default: this host's cores / ranks per host)");
  app.add_option("--hostfile", options.hostfile, "OpenMPI hostfile (host slots=N lines)")->check(CLI::ExistingFile);
  app.add_flag("--dry-run", options.dry_run, "validate the job, print the plan and the mpirun command, start nothing");
  app.add_option("--set", options.overrides,
                 "override one job key: section.key=value (repeatable, forwarded to ranks)");
  app.add_option("--grace-period", options.grace_seconds,
                 "seconds the ranks get to checkpoint and stop after the first SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)->default_val(60);
  app.add_option("--reference-timeout", options.reference_timeout_seconds,
                 "seconds a started reference server gets to report SERVING")
      ->check(CLI::PositiveNumber)->default_val(120);
  app.footer("Arguments after -- are passed to mpirun before the program. Exit code: the job's (mpirun's); "
             "2 bad job or command line, 3 reference server unavailable.\n");
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return dpo::RunMain("dpo-launch", [&] { return dpo::RunLaunch(options, std::cout, std::cerr); });
}
