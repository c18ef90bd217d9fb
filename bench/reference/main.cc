// dpo-bench-reference: the reference server's benchmarks. They print medians and ratios; nothing
// is asserted. Run with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 (servers get the same).
//   dpo-bench-reference [all|hit|step|load] [--scale F] [--step-rounds N] [--steps-per-round N]
//       [--load-seconds S] [--overload-seconds S] [--recovery-seconds S] [--load-fraction F]
//       [--load-rate R] [--load-sequences N] [--load-records FILE.csv]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bench/reference/bench_support.h"
#include "bench/reference/echo_server.h"
#include "tests/support/test_support.h"

namespace {

constexpr const char* kUsage =
    "usage: dpo-bench-reference [all|hit|step|load] [--scale F] [--step-rounds N] [--steps-per-round N]\n"
    "         [--load-seconds S] [--overload-seconds S] [--recovery-seconds S] [--load-fraction F]\n"
    "         [--load-rate R] [--load-sequences N] [--load-records FILE.csv]\n";

// Fills `options` from flags after the mode; false (with a message) on an unknown flag.
bool ParseFlags(int argc, char** argv, int first, dpo::bench::BenchOptions& options) {
  for (int i = first; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s", flag.c_str(), kUsage);
      return false;
    }
    const std::string value = argv[i + 1];
    if (flag == "--scale") options.seconds_scale = std::stod(value);
    else if (flag == "--step-rounds") options.step_rounds = std::stoll(value);
    else if (flag == "--steps-per-round") options.steps_per_round = std::stoll(value);
    else if (flag == "--load-seconds") options.load_seconds = std::stod(value);
    else if (flag == "--overload-seconds") options.overload_seconds = std::stod(value);
    else if (flag == "--recovery-seconds") options.recovery_seconds = std::stod(value);
    else if (flag == "--load-fraction") options.load_fraction = std::stod(value);
    else if (flag == "--load-rate") options.load_rate = std::stod(value);
    else if (flag == "--load-sequences") options.load_sequences = std::stoi(value);
    else if (flag == "--load-records") options.load_records = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n%s", flag.c_str(), kUsage);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 && argv[1][0] != '-' ? argv[1] : "all";
  if (mode == "echo-server") return dpo::bench::RunEchoServer();  // the child of the hit benchmark
  if (mode != "all" && mode != "hit" && mode != "step" && mode != "load") {
    std::fprintf(stderr, "unknown mode %s\n%s", mode.c_str(), kUsage);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows while a long mode runs
  dpo::bench::BenchOptions options;
  try {
    if (!ParseFlags(argc, argv, argc > 1 && argv[1][0] != '-' ? 2 : 1, options)) return 2;
    const dpo::testing::TempDir work_dir;
    options.work_dir = work_dir.path();
    const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
    std::printf("dpo-bench-reference: OPENBLAS_NUM_THREADS=%s (servers run with 1)\n", threads ? threads : "unset");
    if (mode == "all" || mode == "hit") dpo::bench::RunHitBench(options);
    if (mode == "all" || mode == "step") dpo::bench::RunStepBench(options);
    if (mode == "all" || mode == "load") dpo::bench::RunLoadBench(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dpo-bench-reference: %s\n", error.what());
    return 1;
  }
  return 0;
}
