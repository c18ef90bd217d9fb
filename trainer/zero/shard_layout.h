// ShardLayout: which elements of which parameters each rank owns under sharded data parallelism
// (ZeRO stages 1 and 2). Pure arithmetic over sizes; no tensors, no communication.
//
// The parameters are grouped into buckets (PlanBuckets over the parameters in reverse order, the
// order backward finishes them). Bucket b is one flat buffer of `size` elements -- its
// parameters back to back -- padded with zeros to `padded_size`, a multiple of the world size,
// and cut into world_size equal segments: rank r owns segment r. A parameter can straddle two
// segments; what a rank owns of it is a Piece.
//
// Independently of buckets and world size, every parameter also has a place in the *global flat
// order*: the parameters in module order, back to back. Optimizer state is saved in that order,
// so a checkpoint written at one world size (or bucket size, or stage) loads at any other.
#pragma once

#include <cstdint>
#include <vector>

namespace dpo {

// One rank's part of one parameter: elements [param_offset, param_offset + length) of parameter
// `parameter`, which lie at [bucket_offset, bucket_offset + length) of bucket `bucket`.
struct ShardPiece {
  size_t parameter = 0;  // index in module order
  size_t bucket = 0;
  int64_t param_offset = 0;
  int64_t bucket_offset = 0;
  int64_t length = 0;
};

struct ShardBucket {
  std::vector<size_t> parameters;  // module-order indices, in bucket order
  int64_t size = 0;                // elements of real data
  int64_t padded_size = 0;         // size rounded up to a multiple of world_size
  int64_t segment = 0;             // padded_size / world_size: one rank's share
};

class ShardLayout {
 public:
  // `numels[i]`: elements of parameter i (module order). `buckets_reversed`: the bucket plan over
  // the parameters in *reverse* order (indices into the reversed list, as PlanBuckets returns
  // them). Requires 0 <= rank < world_size; throws Error(kInternal) for a plan that does not
  // cover every parameter exactly once.
  ShardLayout(const std::vector<int64_t>& numels, const std::vector<std::vector<size_t>>& buckets_reversed,
              int world_size, int rank);

  int world_size() const { return world_size_; }
  int rank() const { return rank_; }
  const std::vector<ShardBucket>& buckets() const { return buckets_; }
  // Where parameter i starts inside its bucket, and which bucket that is.
  int64_t bucket_offset(size_t parameter) const { return bucket_offsets_[parameter]; }
  size_t bucket_of(size_t parameter) const { return bucket_of_[parameter]; }
  // Where parameter i starts in the global flat order; total() elements in all.
  int64_t global_offset(size_t parameter) const { return global_offsets_[parameter]; }
  int64_t total() const { return total_; }

  // This rank's pieces, bucket by bucket and within a bucket in bucket order. Their lengths sum
  // to OwnedElements(); padding belongs to no piece.
  const std::vector<ShardPiece>& pieces() const { return pieces_; }
  int64_t OwnedElements() const;

 private:
  int world_size_;
  int rank_;
  std::vector<ShardBucket> buckets_;
  std::vector<int64_t> bucket_offsets_;
  std::vector<size_t> bucket_of_;
  std::vector<int64_t> global_offsets_;
  int64_t total_ = 0;
  std::vector<ShardPiece> pieces_;
};

}  // namespace dpo
