// SplitMix64: a tiny, fully specified 64-bit generator for the tools' data and seeds, so files
// come out byte-identical on every platform and library version (std distributions do not).
#pragma once

#include <cstdint>

namespace dpo {

// Steele, Lea and Flood's SplitMix64 (the seeding generator of xoshiro). Not thread safe.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound) for bound >= 1, without modulo bias (rejection of the short tail).
  uint64_t UniformBelow(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;  // a multiple of bound
    uint64_t value = Next();
    while (value >= limit) value = Next();
    return value % bound;
  }

 private:
  uint64_t state_;
};

// A seed for stream `stream` derived from `seed`: independent-looking streams for the parts of
// one run (train / eval / sft splits, one prompt of many), stable when other parts change.
inline uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  SplitMix64 mixer(seed ^ (stream * 0xD1B54A32D192ED03ULL));
  mixer.Next();
  return mixer.Next();
}

}  // namespace dpo
