// Deterministic, resumable pair sampler: which pair indices each rank trains on at each step.
// Order is a function of (seed, epoch) only, identical on every platform and standard library.
#pragma once

#include <cstdint>
#include <vector>

namespace dpo {

// The sampler's cursor; stored in every checkpoint.
struct SamplerState {
  int64_t epoch = 0;
  int64_t step_in_epoch = 0;
};

// Each epoch is a Fisher-Yates shuffle of [0, num_pairs) driven by SplitMix64 seeded from
// (seed, epoch) (std::shuffle and std distributions differ across standard libraries). Step s of
// an epoch takes positions [s * G, (s + 1) * G) of that order, G = global_batch_size; the tail
// that does not fill a global batch is left out of that epoch only. Rank r trains on positions
// [r * G / W, (r + 1) * G / W) of the global batch: shards are disjoint and cover it.
// Thread safety: none (one sampler per rank, used by the training loop).
class PairSampler {
 public:
  // Throws Error(kInvalidInput) naming the values unless num_pairs >= 1, world_size >= 1,
  // 0 <= rank < world_size, 1 <= global_batch_size <= num_pairs, and world_size divides
  // global_batch_size. Every problem is reported at once.
  PairSampler(int64_t num_pairs, int64_t global_batch_size, uint64_t seed, int rank,
              int world_size);

  // floor(num_pairs / global_batch_size) >= 1.
  int64_t StepsPerEpoch() const { return steps_per_epoch_; }
  // The global_batch_size pair indices of the current step (distinct, in [0, num_pairs)).
  std::vector<int64_t> GlobalBatch() const;
  // This rank's contiguous global_batch_size / world_size block of GlobalBatch().
  std::vector<int64_t> RankShard() const;
  // Moves to the next step; after the last step of an epoch, to step 0 of the next epoch.
  void Advance();

  SamplerState State() const { return state_; }
  // Throws Error(kInvalidInput) unless epoch >= 0 and 0 <= step_in_epoch < StepsPerEpoch()
  // (a checkpoint written for a data set of another size fails here).
  void Restore(const SamplerState& state);

  // The shuffled order of one epoch: a permutation of [0, num_pairs).
  static std::vector<int64_t> EpochOrder(int64_t num_pairs, uint64_t seed, int64_t epoch);

  int64_t num_pairs() const { return num_pairs_; }
  int64_t global_batch_size() const { return global_batch_size_; }
  int64_t per_rank_batch_size() const { return global_batch_size_ / world_size_; }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

 private:
  int64_t num_pairs_;
  int64_t global_batch_size_;
  uint64_t seed_;
  int rank_;
  int world_size_;
  int64_t steps_per_epoch_ = 0;
  SamplerState state_;
  std::vector<int64_t> order_;  // EpochOrder of state_.epoch
};

}  // namespace dpo
