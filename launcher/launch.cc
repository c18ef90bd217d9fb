// RunLaunch: the steps of a launch, in order, and what is stopped on the way out.
#include "launcher/launch.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "launcher/child_process.h"
#include "launcher/job_supervisor.h"
#include "launcher/launch_plan.h"
#include "launcher/reference_server_process.h"
#include "launcher/stop_requests.h"

namespace dpo {
namespace {

// CPUs this process may run on (a container's cpuset, taskset), else the online count.
int UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

LaunchEnvironment ThisHost() {
  LaunchEnvironment environment;
  environment.cores = UsableCores();
  environment.euid = ::geteuid();
  environment.bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  return environment;
}

std::string Summary(int exit_code, int stop_signal, const LaunchPlan& plan, double seconds) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1f", seconds);
  const std::string how = stop_signal == 0 ? "finished" : "stopped by signal " + std::to_string(stop_signal);
  return "dpo-launch: job " + how + ": exit " + std::to_string(exit_code) + ", " + std::to_string(plan.ranks) +
         (plan.ranks == 1 ? " rank, " : " ranks, ") + elapsed + " s, output " + plan.output_dir;
}

}  // namespace

int RunLaunch(const LaunchOptions& options, std::ostream& out, std::ostream& log) {
  LaunchRequest request;
  request.job = LoadJobSpec(options.config_path, options.overrides);
  request.nproc = options.nproc;
  request.threads_per_rank = options.threads_per_rank;
  if (!options.hostfile.empty()) request.hostfile = ReadHostfile(options.hostfile);
  request.mpirun_args = options.mpirun_args;
  const LaunchPlan plan = MakeLaunchPlan(request, ThisHost());
  if (options.dry_run) {
    out << DescribePlan(plan);
    return 0;
  }

  InstallStopRequestHandlers();
  BecomeChildSubreaper();
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::unique_ptr<ReferenceServerProcess> server;
  std::string reference_address;
  if (plan.reference_server) {
    log << "dpo-launch: starting " << ShellJoin(plan.reference_server->argv) << std::endl;
    server = std::make_unique<ReferenceServerProcess>(*plan.reference_server, options.reference_timeout_seconds,
                                                      [] { return StopRequestCount() > 0; });
    reference_address = server->address();
    if (!server->interrupted()) {
      log << "dpo-launch: reference server serving on " << reference_address << " (pid " << server->pid() << ")"
          << std::endl;
    }
  }

  if (StopRequestCount() > 0) {  // while the server was starting: no job to stop gracefully
    if (server) server->Stop();
    const int code = 128 + LastStopSignal();
    log << "dpo-launch: signal " << LastStopSignal() << " before the ranks started" << std::endl;
    log << Summary(code, LastStopSignal(), plan, elapsed()) << std::endl;
    return code;
  }
  const std::vector<std::string> mpirun_argv =
      ResolveMpirunArgv(plan, reference_address, server ? server->fingerprint() : std::string());
  log << "dpo-launch: " << ShellJoin(mpirun_argv) << std::endl;
  SupervisionOptions supervision;
  supervision.grace_seconds = options.grace_seconds;
  const JobOutcome outcome = SuperviseMpirun(mpirun_argv, supervision, log);

  if (server) {
    const int server_code = server->Stop();
    if (server_code != 0) log << "dpo-launch: the reference server exited with code " << server_code << std::endl;
  }
  if (const int orphans = KillAdoptedOrphans({}); orphans > 0) {
    log << "dpo-launch: killed " << orphans << " processes left behind by mpirun" << std::endl;
  }
  log << Summary(outcome.exit_code, outcome.stop_signal, plan, elapsed()) << std::endl;
  return outcome.exit_code;
}

}  // namespace dpo
