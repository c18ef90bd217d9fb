// CheckpointManager: choosing the checkpoint to resume from, and loading it.
#include "trainer/checkpoint/checkpoint_manager.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "core/model/causal_lm.h"
#include "core/model/pretrained.h"
#include "trainer/checkpoint/checkpoint_layout.h"

namespace dpo {
namespace fs = std::filesystem;

namespace {

// The step `latest` names, or nullopt (with the reason in `problem`) when it is absent,
// unreadable or not a step-<N> name.
std::optional<int64_t> ReadLatestPointer(const std::string& path, std::string& problem) {
  std::error_code error;
  if (!fs::exists(path, error)) return std::nullopt;
  std::string contents;
  try {
    contents = ReadFile(path);
  } catch (const Error& e) {
    problem = e.what();
    return std::nullopt;
  }
  while (!contents.empty() && std::isspace(static_cast<unsigned char>(contents.back()))) contents.pop_back();
  const auto step = ParseStepDirectoryName(contents);
  if (!step) problem = path + ": expected \"step-<N>\", found \"" + contents.substr(0, 64) + "\"";
  return step;
}

}  // namespace

std::optional<std::string> CheckpointManager::FindResumeCheckpoint(const std::string& resume) const {
  if (resume == "never") return std::nullopt;
  if (resume.empty()) throw InvalidInput("resume: empty; expected \"never\", \"auto\" or a checkpoint directory");
  if (resume != "auto") {
    const auto problems = VerifyCheckpoint(resume);
    if (!problems.empty()) {
      throw Error(ErrorKind::kNoCheckpoint, "resume checkpoint " + resume + " is not valid: " + JoinProblems(problems));
    }
    return resume;
  }

  auto steps = ListStepCheckpoints(output_dir_);
  std::vector<std::string> order;  // candidates, most preferred first
  const std::string latest_path = (fs::path(output_dir_) / kLatestFileName).string();
  std::string latest_problem;
  if (const auto latest = ReadLatestPointer(latest_path, latest_problem)) {
    const auto it = std::find_if(steps.begin(), steps.end(), [&](const auto& entry) { return entry.first == *latest; });
    if (it != steps.end()) {
      order.push_back(it->second);
      steps.erase(it);
    } else {
      latest_problem = latest_path + ": names " + StepDirectoryName(*latest) + ", which does not exist";
    }
  }
  if (!latest_problem.empty()) Warn(latest_problem + "; falling back to the newest valid checkpoint");
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) order.push_back(it->second);
  if (order.empty()) return std::nullopt;

  std::string rejected;
  for (const std::string& dir : order) {
    const auto problems = VerifyCheckpoint(dir);
    if (problems.empty()) return dir;
    Warn("skipping invalid checkpoint " + dir + ": " + JoinProblems(problems));
    rejected += "\n  " + dir + ": " + JoinProblems(problems);
  }
  throw Error(ErrorKind::kNoCheckpoint,
              "no valid checkpoint to resume from in " + output_dir_ + " (resume=auto); rejected:" + rejected);
}

TrainerState CheckpointManager::Load(const std::string& dir, CausalLm& model) const {
  const auto problems = VerifyCheckpoint(dir);
  if (!problems.empty()) {
    throw Error(ErrorKind::kNoCheckpoint, "checkpoint " + dir + " is not valid: " + JoinProblems(problems));
  }
  const TrainerState state = ReadCheckpointState(dir);
  model.LoadHfStateDict(ReadModelWeights(dir), (fs::path(dir) / ModelWeightFiles(dir).front()).string());
  return state;
}

TrainerState CheckpointManager::Load(const std::string& dir, CausalLm& model, torch::optim::Optimizer& optimizer) const {
  const TrainerState state = Load(dir, model);
  if (state.optimizer_files != std::vector<std::string>{kOptimizerFileName}) {
    throw InvalidInput(dir + ": the optimizer state is sharded (" + std::to_string(state.optimizer_files.size()) +
                       " files); load it with the job's data-parallel optimizer");
  }

  const std::vector<torch::Tensor> parameters = model.module().parameters();
  const torch::Device device = parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
  const std::string optimizer_path = (fs::path(dir) / kOptimizerFileName).string();
  try {
    torch::load(optimizer, optimizer_path, device);
  } catch (const c10::Error& e) {
    throw InvalidInput(optimizer_path + ": cannot load into this optimizer: " + e.what_without_backtrace());
  }
  return state;
}

}  // namespace dpo
