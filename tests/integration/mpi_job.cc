// mpirun command lines and model comparisons for the MPI tests.
#include "tests/integration/mpi_job.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>

#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "tests/integration/train_job.h"

namespace dpo::testing {
namespace {

// max over tensors of max|a - b| / scale(a).
template <typename Scale>
double MaxDifference(const std::string& a_dir, const std::string& b_dir, Scale scale) {
  const auto a = LoadModelDirectory(a_dir)->HfStateDict();
  const auto b = LoadModelDirectory(b_dir)->HfStateDict();
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, (a[i].tensor - b[i].tensor).abs().max().item<double>() / scale(a[i].tensor));
  }
  return worst;
}

}  // namespace

std::vector<std::string> Mpirun(int ranks, const std::vector<std::string>& program) {
  std::vector<std::string> command = {DPO_MPIEXEC, "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS",
                                      "-x", "OPENBLAS_NUM_THREADS", "-x", "DPO_FAULT_INJECT"};
  if (geteuid() == 0) command.push_back("--allow-run-as-root");
  command.insert(command.end(), {"-np", std::to_string(ranks)});
  command.insert(command.end(), program.begin(), program.end());
  return command;
}

std::vector<std::string> MpiEnv(const std::string& fault) {
  std::vector<std::string> env = SingleThreadEnv();
  env.push_back("DPO_FAULT_INJECT=" + fault);
  return env;
}

double MaxRelativeDifference(const std::string& a_dir, const std::string& b_dir) {
  return MaxDifference(a_dir, b_dir, [](const at::Tensor& a) { return std::max(1e-12, a.abs().max().item<double>()); });
}

double MaxAbsoluteDifference(const std::string& a_dir, const std::string& b_dir) {
  return MaxDifference(a_dir, b_dir, [](const at::Tensor&) { return 1.0; });
}

}  // namespace dpo::testing
