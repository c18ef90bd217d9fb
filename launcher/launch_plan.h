// The launch plan: a pure function of the job, the command line and the host (cores, user),
// so every flag dpo-launch passes to mpirun and the reference server is unit-tested without
// starting anything. --dry-run prints it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "launcher/hostfile.h"
#include "launcher/job_spec.h"

namespace dpo {

struct LaunchEnvironment {
  int cores = 1;          // processing elements of this host (hosts of a hostfile are assumed alike)
  unsigned euid = 1000;   // effective user id: mpirun refuses root without --allow-run-as-root
  std::string bin_dir;    // directory of dpo-train and dpo-reference-server (dpo-launch's own)
  std::string mpirun = "mpirun";
};

struct LaunchRequest {
  JobSpec job;
  int nproc = 1;
  std::optional<Hostfile> hostfile;
  std::vector<std::string> mpirun_args;  // given after `--`, placed before the program
  // Threads of every rank; 0: this host's cores / ranks per host (for hosts unlike the
  // launcher's, e.g. a small launcher pod, give it explicitly).
  int threads_per_rank = 0;
};

struct HostPlacement {
  std::string host;
  int slots = 0;
  int ranks = 0;  // how mpirun's default by-slot mapping fills the hosts
};

struct ReferenceServerLaunch {
  std::vector<std::string> argv;  // listens on 127.0.0.1:0 and prints `listening on HOST:PORT`
  std::vector<std::string> env;   // NAME=value added to the inherited environment
  std::string model;
  std::string cache_dir;
};

// Stand for the started server's address and model fingerprint in mpirun_argv until they are
// known (the fingerprint only when the job names none).
inline constexpr const char* kStartedServerAddress = "<reference-server-address>";
inline constexpr const char* kStartedServerFingerprint = "<reference-server-fingerprint>";

struct LaunchPlan {
  std::string config_path;
  std::string output_dir;
  int ranks = 1;
  std::vector<HostPlacement> hosts;
  int ranks_per_host = 1;    // the most ranks any host runs
  int threads_per_rank = 1;  // OMP_NUM_THREADS and OPENBLAS_NUM_THREADS of every rank
  bool oversubscribe = false;
  std::string reference;     // one line: where reference log-probs come from
  std::optional<ReferenceServerLaunch> reference_server;  // set when dpo-launch starts one
  std::vector<std::string> mpirun_argv;  // holds kStartedServerAddress when a server is started
};

// Throws Error(kInvalidInput) for a request that cannot run: nproc < 1, more ranks than the
// hostfile's max_slots allow, or a server to start for a random model or with TLS/token settings.
LaunchPlan MakeLaunchPlan(const LaunchRequest& request, const LaunchEnvironment& environment);

// mpirun_argv with kStartedServerAddress and kStartedServerFingerprint replaced.
std::vector<std::string> ResolveMpirunArgv(const LaunchPlan& plan, const std::string& reference_address,
                                           const std::string& reference_fingerprint);

// The --dry-run text: ranks, hosts, threads, reference, the exact commands.
std::string DescribePlan(const LaunchPlan& plan);

// `argv` as one shell-safe line (arguments quoted only where needed).
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace dpo
