// MakeLaunchPlan: job + command line + host -> ranks, placement, threads, commands.
#include "launcher/launch_plan.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string_view>

#include "core/common/error.h"

namespace dpo {
namespace {

// mpirun's default mapping: fill each host's slots in order; ranks beyond every slot
// (oversubscription) go round-robin to hosts still under their max_slots.
std::vector<HostPlacement> PlaceRanks(const LaunchRequest& request, const LaunchEnvironment& environment,
                                      bool* oversubscribe) {
  const int cores = std::max(1, environment.cores);
  if (!request.hostfile) {
    *oversubscribe = request.nproc > cores;
    return {{"localhost", cores, request.nproc}};
  }
  std::vector<HostPlacement> hosts;
  std::vector<std::optional<int>> limits;
  int total_slots = 0;
  for (const HostEntry& entry : request.hostfile->hosts) {
    const int slots = entry.slots ? *entry.slots : entry.max_slots ? *entry.max_slots : cores;
    hosts.push_back({entry.host, slots, 0});
    limits.push_back(entry.max_slots);
    total_slots += slots;
  }
  *oversubscribe = request.nproc > total_slots;
  int left = request.nproc;
  for (HostPlacement& host : hosts) {
    host.ranks = std::min(left, host.slots);
    left -= host.ranks;
  }
  while (left > 0) {
    bool placed = false;
    for (size_t i = 0; i < hosts.size() && left > 0; ++i) {
      if (limits[i] && hosts[i].ranks >= *limits[i]) continue;
      ++hosts[i].ranks;
      --left;
      placed = true;
    }
    if (!placed) {
      int limit = 0;
      for (const auto& host_limit : limits) limit += host_limit.value_or(0);
      throw InvalidInput("--nproc " + std::to_string(request.nproc) + " exceeds the max_slots of every host in " +
                         request.hostfile->path + " (" + std::to_string(limit) + " ranks at most)");
    }
  }
  return hosts;
}

std::optional<ReferenceServerLaunch> PlanReferenceServer(const JobSpec& job, const LaunchEnvironment& environment,
                                                         int threads) {
  if (job.reference_mode != "server" || !job.reference_address.empty()) return std::nullopt;
  ReferenceServerLaunch server;
  server.model = job.reference_model.empty() ? job.model_init : job.reference_model;
  if (server.model == "random") {
    throw InvalidInput(
        "reference.mode=server without reference.address: dpo-launch would start a reference server, but the job "
        "names no model directory for it (model.init=random); set reference.model to a model directory, or "
        "reference.address to a running dpo-reference-server");
  }
  if (job.reference_client_security) {
    throw InvalidInput(
        "reference.tls_ca/tls_cert/tls_key/auth_token_file: dpo-launch starts its reference server in plaintext on "
        "127.0.0.1; remove these settings or set reference.address to a server that uses them");
  }
  server.cache_dir = job.output_dir + "/reference-cache";
  server.argv = {environment.bin_dir + "/dpo-reference-server", "--model", server.model, "--listen", "127.0.0.1:0",
                 "--cache-dir", server.cache_dir};
  server.env = {"OMP_NUM_THREADS=" + std::to_string(threads), "OPENBLAS_NUM_THREADS=" + std::to_string(threads)};
  return server;
}

std::string DescribeReference(const JobSpec& job, const std::optional<ReferenceServerLaunch>& server) {
  if (server) return "server started by dpo-launch on 127.0.0.1 (model " + server->model + ")";
  if (job.reference_mode == "server") return "server at " + job.reference_address + " (not started by dpo-launch)";
  return job.reference_mode + " (every rank holds a frozen copy)";
}

bool NeedsQuoting(const std::string& word) {
  if (word.empty()) return true;
  return std::any_of(word.begin(), word.end(), [](unsigned char c) {
    return !(std::isalnum(c) || std::string_view("@%+=:,./_-").find(static_cast<char>(c)) != std::string_view::npos);
  });
}

}  // namespace

LaunchPlan MakeLaunchPlan(const LaunchRequest& request, const LaunchEnvironment& environment) {
  if (request.nproc < 1) throw InvalidInput("--nproc " + std::to_string(request.nproc) + " must be >= 1");
  LaunchPlan plan;
  plan.config_path = request.job.config_path;
  plan.output_dir = request.job.output_dir;
  plan.ranks = request.nproc;
  plan.hosts = PlaceRanks(request, environment, &plan.oversubscribe);
  for (const HostPlacement& host : plan.hosts) plan.ranks_per_host = std::max(plan.ranks_per_host, host.ranks);
  if (request.threads_per_rank < 0) {
    throw InvalidInput("--threads-per-rank=" + std::to_string(request.threads_per_rank) + " must be >= 1 (or 0: the host's share)");
  }
  plan.threads_per_rank = request.threads_per_rank > 0 ? request.threads_per_rank
                                                       : std::max(1, environment.cores / plan.ranks_per_host);
  plan.reference_server = PlanReferenceServer(request.job, environment, plan.threads_per_rank);
  plan.reference = DescribeReference(request.job, plan.reference_server);

  const std::string threads = std::to_string(plan.threads_per_rank);
  std::vector<std::string>& argv = plan.mpirun_argv;
  argv.push_back(environment.mpirun);
  if (environment.euid == 0) argv.push_back("--allow-run-as-root");
  if (plan.oversubscribe) argv.push_back("--oversubscribe");
  argv.insert(argv.end(), {"--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=" + threads, "-x",
                           "OMP_NUM_THREADS=" + threads, "-np", std::to_string(plan.ranks)});
  if (request.hostfile) argv.insert(argv.end(), {"--hostfile", request.hostfile->path});
  argv.insert(argv.end(), request.mpirun_args.begin(), request.mpirun_args.end());
  argv.insert(argv.end(), {environment.bin_dir + "/dpo-train", "--config", request.job.config_path});
  for (const std::string& assignment : request.job.overrides) argv.insert(argv.end(), {"--set", assignment});
  if (plan.reference_server) {
    argv.insert(argv.end(), {"--set", std::string("reference.address=") + kStartedServerAddress});
    if (request.job.reference_fingerprint.empty()) {
      argv.insert(argv.end(), {"--set", std::string("reference.fingerprint=") + kStartedServerFingerprint});
    }
    // The trainer refuses reference.model in server mode: here it named the server's model.
    if (!request.job.reference_model.empty()) argv.insert(argv.end(), {"--set", "reference.model="});
  }
  return plan;
}

std::vector<std::string> ResolveMpirunArgv(const LaunchPlan& plan, const std::string& reference_address,
                                           const std::string& reference_fingerprint) {
  std::vector<std::string> argv = plan.mpirun_argv;
  const std::string address = std::string("reference.address=") + kStartedServerAddress;
  const std::string fingerprint = std::string("reference.fingerprint=") + kStartedServerFingerprint;
  for (std::string& arg : argv) {
    if (arg == address) arg = "reference.address=" + reference_address;
    if (arg == fingerprint) arg = "reference.fingerprint=" + reference_fingerprint;
  }
  return argv;
}

std::string DescribePlan(const LaunchPlan& plan) {
  std::ostringstream out;
  out << "job:        " << plan.config_path << "\n";
  out << "ranks:      " << plan.ranks << (plan.oversubscribe ? " (more than the slots: --oversubscribe)" : "") << "\n";
  out << "hosts:     ";
  for (size_t i = 0; i < plan.hosts.size(); ++i) {
    const HostPlacement& host = plan.hosts[i];
    out << (i == 0 ? " " : ", ") << host.host << " (" << host.ranks << " of " << host.slots << " slots)";
  }
  out << "\n";
  out << "threads:    " << plan.threads_per_rank << " per rank (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS)\n";
  out << "reference:  " << plan.reference << "\n";
  if (plan.reference_server) {
    out << "  server:   " << ShellJoin(plan.reference_server->argv) << "\n";
    out << "  ready:    when grpc.health.v1.Health/Check(\"\") says SERVING; its address replaces "
        << kStartedServerAddress << "\n";
  }
  out << "output:     " << plan.output_dir << "\n";
  out << "mpirun:     " << ShellJoin(plan.mpirun_argv) << "\n";
  return out.str();
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& word : argv) {
    if (!line.empty()) line += ' ';
    if (!NeedsQuoting(word)) {
      line += word;
      continue;
    }
    line += '\'';
    for (const char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

}  // namespace dpo
