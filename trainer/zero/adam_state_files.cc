// Shard files of AdamW state and the conversions to and from LibTorch's per-parameter state.
#include "trainer/zero/adam_state_files.h"

#include <torch/optim/adamw.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace {

at::Tensor Scalar(int64_t value) { return torch::tensor(value, torch::kInt64); }

int64_t ReadScalar(torch::serialize::InputArchive& archive, const char* key, const std::string& path) {
  at::Tensor value;
  if (!archive.try_read(key, value) || value.numel() != 1) throw InvalidInput(path + ": no \"" + std::string(key) + "\" entry");
  return value.item<int64_t>();
}

at::Tensor ReadTensor(torch::serialize::InputArchive& archive, const char* key, const std::string& path) {
  at::Tensor value;
  if (!archive.try_read(key, value)) throw InvalidInput(path + ": no \"" + std::string(key) + "\" entry");
  return value;
}

}  // namespace

std::string OptimizerShardFileName(int rank, int world_size) {
  char name[64];
  std::snprintf(name, sizeof(name), "optimizer-shard-%05d-of-%05d.pt", rank, world_size);
  return name;
}

void WriteOptimizerShard(const std::string& path, int64_t step, int64_t total,
                         const std::vector<std::pair<int64_t, int64_t>>& ranges, const at::Tensor& exp_avg,
                         const at::Tensor& exp_avg_sq) {
  at::Tensor range_table = torch::empty({static_cast<int64_t>(ranges.size()), 2}, torch::kInt64);
  for (size_t i = 0; i < ranges.size(); ++i) {
    range_table[static_cast<int64_t>(i)][0] = ranges[i].first;
    range_table[static_cast<int64_t>(i)][1] = ranges[i].second;
  }
  torch::serialize::OutputArchive archive;
  archive.write("total", Scalar(total));
  archive.write("step", Scalar(step));
  archive.write("ranges", range_table);
  archive.write("exp_avg", exp_avg.detach().to(torch::kCPU, torch::kFloat).contiguous());
  archive.write("exp_avg_sq", exp_avg_sq.detach().to(torch::kCPU, torch::kFloat).contiguous());
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kInternal, path + ": cannot serialise optimizer shard: " + e.what_without_backtrace());
  }
  WriteFileAtomically(path, bytes.str());
}

FlatAdamState ReadOptimizerShards(const std::string& dir, const std::vector<std::string>& files, int64_t total) {
  FlatAdamState flat;
  flat.exp_avg = torch::zeros({total}, torch::kFloat);
  flat.exp_avg_sq = torch::zeros({total}, torch::kFloat);
  // Coverage: (begin, end, file) of every range, checked for overlap and gaps at the end.
  std::vector<std::tuple<int64_t, int64_t, std::string>> covered;
  bool have_step = false;
  for (const std::string& name : files) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(path);
    } catch (const c10::Error& e) {
      throw InvalidInput(path + ": not an optimizer shard: " + e.what_without_backtrace());
    }
    const int64_t file_total = ReadScalar(archive, "total", path);
    if (file_total != total) {
      throw InvalidInput(path + ": holds optimizer state for " + std::to_string(file_total) +
                         " parameter elements; this model has " + std::to_string(total));
    }
    const int64_t step = ReadScalar(archive, "step", path);
    if (have_step && step != flat.step) {
      throw InvalidInput(path + ": step " + std::to_string(step) + " differs from the other shards' " +
                         std::to_string(flat.step));
    }
    flat.step = step;
    have_step = true;
    const at::Tensor ranges = ReadTensor(archive, "ranges", path);
    const at::Tensor exp_avg = ReadTensor(archive, "exp_avg", path).to(torch::kFloat).reshape({-1});
    const at::Tensor exp_avg_sq = ReadTensor(archive, "exp_avg_sq", path).to(torch::kFloat).reshape({-1});
    if (ranges.dim() != 2 || (ranges.numel() > 0 && ranges.size(1) != 2) || exp_avg.numel() != exp_avg_sq.numel()) {
      throw InvalidInput(path + ": malformed shard (ranges must be (K, 2); the two moments of equal length)");
    }
    int64_t offset = 0;
    for (int64_t k = 0; k < ranges.size(0); ++k) {
      const int64_t begin = ranges[k][0].item<int64_t>();
      const int64_t length = ranges[k][1].item<int64_t>();
      if (begin < 0 || length < 0 || begin + length > total || offset + length > exp_avg.numel()) {
        throw InvalidInput(path + ": range " + std::to_string(k) + " [" + std::to_string(begin) + ", " +
                           std::to_string(begin + length) + ") lies outside [0, " + std::to_string(total) +
                           ") or beyond the file's " + std::to_string(exp_avg.numel()) + " values");
      }
      flat.exp_avg.narrow(0, begin, length).copy_(exp_avg.narrow(0, offset, length));
      flat.exp_avg_sq.narrow(0, begin, length).copy_(exp_avg_sq.narrow(0, offset, length));
      covered.emplace_back(begin, begin + length, path);
      offset += length;
    }
  }
  std::sort(covered.begin(), covered.end());
  int64_t reached = 0;
  for (const auto& [begin, end, path] : covered) {
    if (begin < reached) throw InvalidInput(path + ": range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                            ") overlaps another shard's");
    if (begin > reached) break;
    reached = end;
  }
  if (reached != total) {
    throw InvalidInput(dir + ": its " + std::to_string(files.size()) + " optimizer shard file(s) leave element " +
                       std::to_string(reached) + " of " + std::to_string(total) + " without state (a shard is missing)");
  }
  return flat;
}

FlatAdamState FlattenAdamState(torch::optim::Optimizer& optimizer, const std::vector<at::Tensor>& parameters) {
  int64_t total = 0;
  for (const at::Tensor& parameter : parameters) total += parameter.numel();
  FlatAdamState flat;
  flat.exp_avg = torch::zeros({total}, torch::kFloat);
  flat.exp_avg_sq = torch::zeros({total}, torch::kFloat);
  bool have_step = false;
  int64_t offset = 0;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const at::Tensor& parameter = parameters[i];
    const auto found = optimizer.state().find(parameter.unsafeGetTensorImpl());
    if (found != optimizer.state().end()) {
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
      if (have_step && state.step() != flat.step) {
        throw InvalidInput("optimizer state: parameter " + std::to_string(i) + " has taken " +
                           std::to_string(state.step()) + " steps, the others " + std::to_string(flat.step) +
                           "; sharded AdamW needs one step count");
      }
      flat.step = state.step();
      have_step = true;
      flat.exp_avg.narrow(0, offset, parameter.numel()).copy_(state.exp_avg().reshape({-1}));
      flat.exp_avg_sq.narrow(0, offset, parameter.numel()).copy_(state.exp_avg_sq().reshape({-1}));
    }
    offset += parameter.numel();
  }
  return flat;
}

void LoadAdamState(const FlatAdamState& flat, torch::optim::Optimizer& optimizer, const std::vector<at::Tensor>& parameters) {
  int64_t offset = 0;
  for (const at::Tensor& parameter : parameters) {
    void* key = parameter.unsafeGetTensorImpl();
    optimizer.state().erase(key);
    if (flat.step > 0) {
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(flat.step);
      const auto options = parameter.options().requires_grad(false);
      state->exp_avg(flat.exp_avg.narrow(0, offset, parameter.numel()).view(parameter.sizes()).to(options).clone());
      state->exp_avg_sq(flat.exp_avg_sq.narrow(0, offset, parameter.numel()).view(parameter.sizes()).to(options).clone());
      optimizer.state()[key] = std::move(state);
    }
    offset += parameter.numel();
  }
}

}  // namespace dpo
