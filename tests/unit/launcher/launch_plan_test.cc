// The launch plan as a pure function: mpirun flags for root, oversubscription and threads,
// hostfile placement, argument order, and when (and how) a reference server is started.
#include "launcher/launch_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/common/error.h"

namespace dpo {
namespace {

using Argv = std::vector<std::string>;

JobSpec Job(const std::string& mode = "local", const std::string& address = "", const std::string& reference_model = "",
            const std::string& model_init = "/models/init") {
  JobSpec job;
  job.config_path = "/jobs/job.yaml";
  job.output_dir = "/jobs/out";
  job.reference_mode = mode;
  job.reference_address = address;
  job.reference_model = reference_model;
  job.model_init = model_init;
  return job;
}

LaunchEnvironment Host(int cores, unsigned euid = 1000) {
  LaunchEnvironment environment;
  environment.cores = cores;
  environment.euid = euid;
  environment.bin_dir = "/opt/dpo/bin";
  return environment;
}

LaunchRequest Request(int nproc, JobSpec job = Job()) {
  LaunchRequest request;
  request.job = std::move(job);
  request.nproc = nproc;
  return request;
}

bool Contains(const Argv& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

std::string InvalidInputMessage(const LaunchRequest& request, const LaunchEnvironment& environment) {
  try {
    MakeLaunchPlan(request, environment);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  ADD_FAILURE() << "the plan was accepted";
  return "";
}

TEST(LaunchPlan, ExactMpirunCommandForTwoRanksAsRootOnTwoCores) {
  const LaunchPlan plan = MakeLaunchPlan(Request(2), Host(2, 0));
  EXPECT_EQ(plan.mpirun_argv, (Argv{"mpirun", "--allow-run-as-root", "--bind-to", "none", "-x",
                                    "OPENBLAS_NUM_THREADS=1", "-x", "OMP_NUM_THREADS=1", "-np", "2",
                                    "/opt/dpo/bin/dpo-train", "--config", "/jobs/job.yaml"}));
  EXPECT_EQ(plan.ranks, 2);
  EXPECT_EQ(plan.threads_per_rank, 1);
  EXPECT_FALSE(plan.oversubscribe);
  EXPECT_FALSE(plan.reference_server.has_value());
  ASSERT_EQ(plan.hosts.size(), 1u);
  EXPECT_EQ(plan.hosts[0].host, "localhost");
  EXPECT_EQ(plan.hosts[0].ranks, 2);
}

TEST(LaunchPlan, RootOversubscriptionAndThreadShareFollowTheHost) {
  const struct {
    int cores;
    int nproc;
    unsigned euid;
    bool allow_root;
    bool oversubscribe;
    int threads;
  } cases[] = {
      {2, 1, 1000, false, false, 2}, {2, 2, 0, true, false, 1},  {2, 3, 1000, false, true, 1},
      {2, 3, 0, true, true, 1},      {8, 3, 1000, false, false, 2}, {16, 4, 1000, false, false, 4},
      {1, 1, 1000, false, false, 1}, {4, 4, 1000, false, false, 1}, {4, 5, 1000, false, true, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("cores " + std::to_string(c.cores) + " nproc " + std::to_string(c.nproc) + " euid " +
                 std::to_string(c.euid));
    const LaunchPlan plan = MakeLaunchPlan(Request(c.nproc), Host(c.cores, c.euid));
    EXPECT_EQ(Contains(plan.mpirun_argv, "--allow-run-as-root"), c.allow_root);
    EXPECT_EQ(Contains(plan.mpirun_argv, "--oversubscribe"), c.oversubscribe);
    EXPECT_EQ(plan.oversubscribe, c.oversubscribe);
    EXPECT_EQ(plan.threads_per_rank, c.threads);
    EXPECT_TRUE(Contains(plan.mpirun_argv, "OPENBLAS_NUM_THREADS=" + std::to_string(c.threads)));
    EXPECT_TRUE(Contains(plan.mpirun_argv, "OMP_NUM_THREADS=" + std::to_string(c.threads)));
    EXPECT_TRUE(Contains(plan.mpirun_argv, std::to_string(c.nproc)));
  }
}

TEST(LaunchPlan, ExplicitThreadsPerRankOverrideTheHostShare) {
  LaunchRequest request = Request(2);
  request.threads_per_rank = 8;  // workers larger than the launcher's host
  const LaunchPlan plan = MakeLaunchPlan(request, Host(1));
  EXPECT_EQ(plan.threads_per_rank, 8);
  const Argv& argv = plan.mpirun_argv;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "OMP_NUM_THREADS=8"), argv.end());
  request.threads_per_rank = -1;
  EXPECT_THROW(MakeLaunchPlan(request, Host(1)), Error);
}

TEST(LaunchPlan, DefaultNprocIsOneRank) {
  LaunchRequest request;  // --nproc not given
  request.job = Job();
  const LaunchPlan plan = MakeLaunchPlan(request, Host(4));
  EXPECT_EQ(plan.ranks, 1);
  EXPECT_EQ(plan.threads_per_rank, 4);
  const auto np = std::find(plan.mpirun_argv.begin(), plan.mpirun_argv.end(), "-np");
  ASSERT_NE(np, plan.mpirun_argv.end());
  EXPECT_EQ(*(np + 1), "1");
}

TEST(LaunchPlan, NprocBelowOneIsRefused) {
  EXPECT_EQ(InvalidInputMessage(Request(0), Host(2)), "--nproc 0 must be >= 1");
}

TEST(LaunchPlan, HostfilePlacementFillsSlotsInOrder) {
  const struct {
    std::string hostfile;
    int nproc;
    std::vector<int> ranks;
    bool oversubscribe;
    int threads;  // 8 cores per host
  } cases[] = {
      {"a slots=2\nb slots=2\n", 3, {2, 1}, false, 4},
      {"a slots=2\nb slots=2\n", 4, {2, 2}, false, 4},
      {"a slots=2\nb slots=2\n", 5, {3, 2}, true, 2},
      {"a slots=1\nb slots=1\n", 1, {1, 0}, false, 8},
      {"a\nb\n", 10, {8, 2}, false, 1},              // no slots: the host's cores
      {"a max_slots=2\nb\n", 12, {2, 10}, true, 0},  // a is capped; b takes the rest (threads max(1, 8/10))
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.hostfile + " nproc " + std::to_string(c.nproc));
    LaunchRequest request = Request(c.nproc);
    request.hostfile = ParseHostfile(c.hostfile, "/jobs/hosts");
    const LaunchPlan plan = MakeLaunchPlan(request, Host(8));
    ASSERT_EQ(plan.hosts.size(), c.ranks.size());
    for (size_t i = 0; i < c.ranks.size(); ++i) EXPECT_EQ(plan.hosts[i].ranks, c.ranks[i]) << plan.hosts[i].host;
    EXPECT_EQ(plan.oversubscribe, c.oversubscribe);
    EXPECT_EQ(plan.threads_per_rank, std::max(1, c.threads));
  }
}

TEST(LaunchPlan, MoreRanksThanEveryMaxSlotsIsRefused) {
  LaunchRequest request = Request(5);
  request.hostfile = ParseHostfile("a max_slots=2\nb slots=1 max_slots=2\n", "/jobs/hosts");
  EXPECT_EQ(InvalidInputMessage(request, Host(8)),
            "--nproc 5 exceeds the max_slots of every host in /jobs/hosts (4 ranks at most)");
}

TEST(LaunchPlan, HostfileExtraArgsAndOverridesAreInPlace) {
  LaunchRequest request = Request(4);
  request.hostfile = ParseHostfile("a slots=2\nb slots=2\n", "/jobs/hosts");
  request.mpirun_args = {"--mca", "btl", "self,tcp", "--timeout", "600"};
  request.job.overrides = {"training.max_steps=5", "data.train=other.jsonl"};
  const LaunchPlan plan = MakeLaunchPlan(request, Host(4));
  EXPECT_EQ(plan.mpirun_argv,
            (Argv{"mpirun", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=2", "-x", "OMP_NUM_THREADS=2", "-np", "4",
                  "--hostfile", "/jobs/hosts", "--mca", "btl", "self,tcp", "--timeout", "600",
                  "/opt/dpo/bin/dpo-train", "--config", "/jobs/job.yaml", "--set", "training.max_steps=5", "--set",
                  "data.train=other.jsonl"}));
}

TEST(LaunchPlan, ReferenceServerIsStartedOnlyForServerModeWithoutAddress) {
  const struct {
    std::string mode;
    std::string address;
    bool started;
  } cases[] = {{"local", "", false}, {"server", "10.0.0.5:50051", false}, {"server", "", true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.mode + " " + c.address);
    const LaunchPlan plan = MakeLaunchPlan(Request(2, Job(c.mode, c.address)), Host(2));
    EXPECT_EQ(plan.reference_server.has_value(), c.started);
    const bool sets_address = std::any_of(plan.mpirun_argv.begin(), plan.mpirun_argv.end(), [](const std::string& a) {
      return a.rfind("reference.address=", 0) == 0;
    });
    EXPECT_EQ(sets_address, c.started);
  }
}

TEST(LaunchPlan, StartedServerServesTheInitialModelOnLoopbackWithTheJobsCache) {
  const LaunchPlan plan = MakeLaunchPlan(Request(2, Job("server")), Host(2, 0));
  ASSERT_TRUE(plan.reference_server.has_value());
  EXPECT_EQ(plan.reference_server->argv,
            (Argv{"/opt/dpo/bin/dpo-reference-server", "--model", "/models/init", "--listen", "127.0.0.1:0",
                  "--cache-dir", "/jobs/out/reference-cache"}));
  EXPECT_EQ(plan.reference_server->env, (Argv{"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"}));
  const Argv tail(plan.mpirun_argv.end() - 7, plan.mpirun_argv.end());
  EXPECT_EQ(tail, (Argv{"/opt/dpo/bin/dpo-train", "--config", "/jobs/job.yaml", "--set",
                        std::string("reference.address=") + kStartedServerAddress, "--set",
                        std::string("reference.fingerprint=") + kStartedServerFingerprint}));
  const Argv resolved = ResolveMpirunArgv(plan, "127.0.0.1:41234", std::string(64, 'a'));
  EXPECT_EQ(resolved.end()[-3], "reference.address=127.0.0.1:41234");
  EXPECT_EQ(resolved.back(), "reference.fingerprint=" + std::string(64, 'a'));
  EXPECT_EQ(Argv(resolved.begin(), resolved.end() - 3), Argv(plan.mpirun_argv.begin(), plan.mpirun_argv.end() - 3));
}

TEST(LaunchPlan, AFingerprintTheJobNamesIsKeptForTheStartedServer) {
  JobSpec job = Job("server");
  job.reference_fingerprint = std::string(64, 'b');
  const LaunchPlan plan = MakeLaunchPlan(Request(1, job), Host(2));
  ASSERT_TRUE(plan.reference_server.has_value());
  for (const std::string& arg : plan.mpirun_argv) EXPECT_EQ(arg.find("reference.fingerprint="), std::string::npos) << arg;
}

TEST(LaunchPlan, ReferenceModelNamesTheServersModelAndIsClearedForTheRanks) {
  JobSpec job = Job("server", "", "/models/sft");
  job.overrides = {"reference.mode=server"};
  const LaunchPlan plan = MakeLaunchPlan(Request(1, job), Host(2));
  ASSERT_TRUE(plan.reference_server.has_value());
  EXPECT_EQ(plan.reference_server->model, "/models/sft");
  EXPECT_EQ(plan.reference_server->argv.at(2), "/models/sft");
  const Argv tail(plan.mpirun_argv.end() - 8, plan.mpirun_argv.end());
  EXPECT_EQ(tail, (Argv{"--set", "reference.mode=server", "--set",
                        std::string("reference.address=") + kStartedServerAddress, "--set",
                        std::string("reference.fingerprint=") + kStartedServerFingerprint, "--set", "reference.model="}));
}

TEST(LaunchPlan, ServerForARandomModelIsRefusedNamingTheKeysToSet) {
  const std::string message = InvalidInputMessage(Request(2, Job("server", "", "", "random")), Host(2));
  EXPECT_NE(message.find("set reference.model to a model directory, or reference.address"), std::string::npos)
      << message;
}

TEST(LaunchPlan, StartedServerWithTlsOrTokenSettingsIsRefused) {
  JobSpec job = Job("server");
  job.reference_client_security = true;
  const std::string message = InvalidInputMessage(Request(2, job), Host(2));
  EXPECT_NE(message.find("plaintext on 127.0.0.1"), std::string::npos) << message;
}

TEST(LaunchPlan, DescriptionNamesRanksThreadsReferenceAndTheExactCommands) {
  const LaunchPlan plan = MakeLaunchPlan(Request(3, Job("server")), Host(2, 0));
  const std::string text = DescribePlan(plan);
  for (const std::string& expected :
       {std::string("ranks:      3 (more than the slots: --oversubscribe)\n"),
        std::string("hosts:      localhost (3 of 2 slots)\n"), std::string("threads:    1 per rank"),
        std::string("reference:  server started by dpo-launch on 127.0.0.1 (model /models/init)\n"),
        "  server:   " + ShellJoin(plan.reference_server->argv) + "\n", std::string("output:     /jobs/out\n"),
        "mpirun:     " + ShellJoin(plan.mpirun_argv) + "\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << text;
  }
}

TEST(LaunchPlan, ShellJoinQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(ShellJoin({"mpirun", "-x", "OMP_NUM_THREADS=2", "/a/b", "reference.model=", "it's", "two words", ""}),
            "mpirun -x OMP_NUM_THREADS=2 /a/b reference.model= 'it'\\''s' 'two words' ''");
}

}  // namespace
}  // namespace dpo
