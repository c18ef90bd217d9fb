// Bucket padding, segment ownership and the pieces of parameters a rank owns.
#include "trainer/zero/shard_layout.h"

#include <algorithm>
#include <string>

#include "core/common/error.h"

namespace dpo {

ShardLayout::ShardLayout(const std::vector<int64_t>& numels, const std::vector<std::vector<size_t>>& buckets_reversed,
                         int world_size, int rank)
    : world_size_(world_size), rank_(rank) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error(ErrorKind::kInternal, "ShardLayout: rank " + std::to_string(rank) + " of world size " +
                                          std::to_string(world_size));
  }
  const size_t count = numels.size();
  global_offsets_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    global_offsets_[i] = total_;
    total_ += numels[i];
  }

  bucket_offsets_.assign(count, -1);
  bucket_of_.assign(count, 0);
  for (const auto& reversed : buckets_reversed) {
    ShardBucket bucket;
    for (const size_t r : reversed) {
      if (r >= count || bucket_offsets_[count - 1 - r] != -1) {
        throw Error(ErrorKind::kInternal, "ShardLayout: the bucket plan names parameter " + std::to_string(r) +
                                              " twice or out of range");
      }
      const size_t parameter = count - 1 - r;
      bucket.parameters.push_back(parameter);
      bucket_offsets_[parameter] = bucket.size;
      bucket_of_[parameter] = buckets_.size();
      bucket.size += numels[parameter];
    }
    bucket.padded_size = (bucket.size + world_size - 1) / world_size * world_size;
    bucket.segment = bucket.padded_size / world_size;
    buckets_.push_back(std::move(bucket));
  }
  if (std::count(bucket_offsets_.begin(), bucket_offsets_.end(), int64_t{-1}) != 0) {
    throw Error(ErrorKind::kInternal, "ShardLayout: the bucket plan leaves a parameter out");
  }

  for (size_t b = 0; b < buckets_.size(); ++b) {
    const ShardBucket& bucket = buckets_[b];
    const int64_t owned_begin = rank * bucket.segment;
    const int64_t owned_end = std::min(owned_begin + bucket.segment, bucket.size);
    for (const size_t parameter : bucket.parameters) {
      const int64_t begin = std::max(owned_begin, bucket_offsets_[parameter]);
      const int64_t end = std::min(owned_end, bucket_offsets_[parameter] + numels[parameter]);
      if (begin >= end) continue;
      pieces_.push_back({parameter, b, begin - bucket_offsets_[parameter], begin, end - begin});
    }
  }
}

int64_t ShardLayout::OwnedElements() const {
  int64_t owned = 0;
  for (const ShardPiece& piece : pieces_) owned += piece.length;
  return owned;
}

}  // namespace dpo
