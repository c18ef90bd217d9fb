// AdamW state in the global flat order (shard_layout.h), and the files that hold it: the
// converter between the whole-optimizer file of stage 0 (optimizer.pt, torch::save of the
// LibTorch optimizer) and the per-rank shard files of stages 1 and 2.
//
// A shard file (torch::serialize archive) holds:
//   "total"      int64 ()        elements in the global flat order (a check on the model)
//   "step"       int64 ()        AdamW updates applied
//   "ranges"     int64 (K, 2)    (begin, length) of each range of the global flat order it holds
//   "exp_avg"    float32 (n,)    the first moments of those ranges, concatenated
//   "exp_avg_sq" float32 (n,)    the second moments, likewise
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torch::optim {
class Optimizer;
}

namespace dpo {

struct FlatAdamState {
  int64_t step = 0;       // AdamW updates applied (the same for every parameter)
  at::Tensor exp_avg;     // (total,) float32, CPU
  at::Tensor exp_avg_sq;  // (total,) float32, CPU
};

// "optimizer-shard-00001-of-00004.pt".
std::string OptimizerShardFileName(int rank, int world_size);

// Writes a shard file atomically (temp file, fsync, rename). `exp_avg` and `exp_avg_sq` hold
// the ranges' elements concatenated. Throws Error(kInternal) naming the path on I/O failure.
void WriteOptimizerShard(const std::string& path, int64_t step, int64_t total,
                         const std::vector<std::pair<int64_t, int64_t>>& ranges, const at::Tensor& exp_avg,
                         const at::Tensor& exp_avg_sq);

// Every shard in `files` (names in `dir`) assembled into one FlatAdamState of `total` elements.
// Throws Error(kInvalidInput) naming the file when one cannot be read, disagrees on total or
// step, has a range outside [0, total) or overlapping another file's, or when together they
// leave part of [0, total) uncovered.
FlatAdamState ReadOptimizerShards(const std::string& dir, const std::vector<std::string>& files, int64_t total);

// The per-parameter state of a LibTorch AdamW (FusedAdamW included) over `parameters` in the
// global flat order. Parameters without state (never updated) contribute zeros at step 0.
// Throws Error(kInvalidInput) when parameters have different step counts.
FlatAdamState FlattenAdamState(torch::optim::Optimizer& optimizer, const std::vector<at::Tensor>& parameters);
// The reverse: gives every parameter of `optimizer` the state of `flat` (on the parameter's
// device and dtype). A step of 0 clears the state.
void LoadAdamState(const FlatAdamState& flat, torch::optim::Optimizer& optimizer, const std::vector<at::Tensor>& parameters);

}  // namespace dpo
