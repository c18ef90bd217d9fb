// SplitMix64-driven Fisher-Yates shuffles and the step/rank arithmetic of the sampler.
#include "core/data/pair_sampler.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/common/error.h"
#include "core/common/problems.h"

namespace dpo {
namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function (Steele, Lea, Flood 2014).
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next() { return Mix64(state_ += kGoldenGamma); }
  // Uniform in [0, bound), bound >= 1, without modulo bias: rejects the lowest 2^64 mod bound
  // values so that every residue is equally likely.
  uint64_t Below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (true) {
      const uint64_t value = Next();
      if (value >= threshold) return value % bound;
    }
  }

 private:
  uint64_t state_;
};

}  // namespace

std::vector<int64_t> PairSampler::EpochOrder(int64_t num_pairs, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<std::size_t>(std::max<int64_t>(num_pairs, 0)));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  SplitMix64 generator(Mix64(seed ^ Mix64(static_cast<uint64_t>(epoch) + kGoldenGamma)));
  for (std::size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(generator.Below(i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

PairSampler::PairSampler(int64_t num_pairs, int64_t global_batch_size, uint64_t seed, int rank,
                         int world_size)
    : num_pairs_(num_pairs),
      global_batch_size_(global_batch_size),
      seed_(seed),
      rank_(rank),
      world_size_(world_size) {
  std::vector<std::string> problems;
  const auto add = [&problems](const std::string& problem) { problems.push_back(problem); };
  const std::string batch = "global_batch_size=" + std::to_string(global_batch_size);
  const std::string world = "world_size=" + std::to_string(world_size);
  if (num_pairs < 1) add("num_pairs=" + std::to_string(num_pairs) + " must be >= 1");
  if (world_size < 1) add(world + " must be >= 1");
  if (world_size >= 1 && (rank < 0 || rank >= world_size)) {
    add("rank=" + std::to_string(rank) + " must be in [0, " + world + ")");
  }
  if (global_batch_size < 1) add(batch + " must be >= 1");
  if (num_pairs >= 1 && global_batch_size > num_pairs) {
    add(batch + " must be <= num_pairs=" + std::to_string(num_pairs));
  }
  if (world_size >= 1 && global_batch_size >= 1 && global_batch_size % world_size != 0) {
    add(batch + " must be divisible by " + world);
  }
  if (!problems.empty()) throw InvalidInput("pair sampler: " + JoinProblems(problems));
  steps_per_epoch_ = num_pairs_ / global_batch_size_;
  order_ = EpochOrder(num_pairs_, seed_, state_.epoch);
}

std::vector<int64_t> PairSampler::GlobalBatch() const {
  const auto begin = order_.begin() + state_.step_in_epoch * global_batch_size_;
  return std::vector<int64_t>(begin, begin + global_batch_size_);
}

std::vector<int64_t> PairSampler::RankShard() const {
  const int64_t per_rank = per_rank_batch_size();
  const auto begin =
      order_.begin() + state_.step_in_epoch * global_batch_size_ + rank_ * per_rank;
  return std::vector<int64_t>(begin, begin + per_rank);
}

void PairSampler::Advance() {
  if (++state_.step_in_epoch < steps_per_epoch_) return;
  state_.step_in_epoch = 0;
  ++state_.epoch;
  order_ = EpochOrder(num_pairs_, seed_, state_.epoch);
}

void PairSampler::Restore(const SamplerState& state) {
  std::vector<std::string> problems;
  if (state.epoch < 0) problems.push_back("epoch=" + std::to_string(state.epoch) + " must be >= 0");
  if (state.step_in_epoch < 0 || state.step_in_epoch >= steps_per_epoch_) {
    problems.push_back("step_in_epoch=" + std::to_string(state.step_in_epoch) + " must be in [0, " +
                       std::to_string(steps_per_epoch_) + ") (num_pairs=" + std::to_string(num_pairs_) +
                       ", global_batch_size=" + std::to_string(global_batch_size_) + ")");
  }
  if (!problems.empty()) throw InvalidInput("pair sampler state: " + JoinProblems(problems));
  if (state.epoch != state_.epoch) order_ = EpochOrder(num_pairs_, seed_, state.epoch);
  state_ = state;
}

}  // namespace dpo
