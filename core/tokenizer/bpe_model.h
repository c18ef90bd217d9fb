// The BPE model of a byte-level tokenizer.json, on raw bytes: vocabulary strings are turned from
// their byte-level spelling into bytes once at load time, so encoding never maps characters.
// Merges apply lowest rank first, leftmost first on ties (HF tokenizers' order); results for
// repeated pre-tokens come from a bounded cache.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

// A bounded cache from pre-token bytes to their ids, shared by concurrent Encode calls: a
// direct-mapped table of fixed-size slots (a new entry replaces whatever shared its slot), so
// memory is fixed at construction whatever the text. Pieces longer than kMaxPieceBytes or with
// more than kMaxIds ids are not cached. Each slot is a seqlock over atomic words: lookups never
// write shared memory and never wait; an insert that meets a concurrent insert is dropped.
class PieceCache {
 public:
  static constexpr std::size_t kMaxPieceBytes = 48;
  static constexpr std::size_t kMaxIds = 14;

  // `capacity` is rounded down to a power of two; 0 disables the cache.
  explicit PieceCache(std::size_t capacity);
  // Appends the cached ids of `piece` to `ids` and returns true, or returns false.
  bool Find(std::string_view piece, std::vector<TokenId>* ids) const;
  void Insert(std::string_view piece, const TokenId* ids, std::size_t count) const;
  // Occupied slots (walks the table: for tests and statistics).
  std::size_t Size() const;
  std::size_t Capacity() const { return capacity_; }

 private:
  // 128 bytes: version (odd while written), hash, sizes (key bytes | ids << 8), 6 words of key
  // bytes, 7 words of ids (two int32 a word).
  static constexpr std::size_t kWords = 15;
  static constexpr std::size_t kKeyWord = 2, kIdWord = 8;
  struct alignas(64) Slot {
    std::atomic<uint64_t> version{0};
    std::atomic<uint64_t> words[kWords] = {};
  };
  static_assert(sizeof(Slot) == 128, "one slot is two cache lines");

  std::size_t capacity_ = 0;
  std::unique_ptr<Slot[]> slots_;
};

// Merge lookup: (left id, right id) -> (rank, merged id), open addressing.
class MergeTable {
 public:
  void Reserve(std::size_t merges);
  // Keeps the first (lowest-rank) entry of a pair listed twice.
  void Insert(int32_t left, int32_t right, int32_t rank, int32_t merged);
  // The rank of the pair, or kNoMerge; `*merged` receives the merged id.
  int32_t Find(int32_t left, int32_t right, int32_t* merged) const;
  std::size_t Size() const { return size_; }

  static constexpr int32_t kNoMerge = INT32_MAX;

 private:
  struct Slot {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::size_t SlotOf(uint64_t key) const;
  void Grow();

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  int shift_ = 64;
};

struct BpeMerge {
  int32_t left, right, merged;
};

// Thread safety: immutable after construction except the internally synchronised cache.
class BpeModel {
 public:
  // `byte_ids[b]` is the id of the one-byte token b; `vocabulary` maps raw bytes to ids;
  // merges are given in rank order. `ignore_merges`: a pre-token that is itself in the
  // vocabulary is emitted whole (Llama 3).
  BpeModel(std::array<int32_t, 256> byte_ids, std::unordered_map<std::string, int32_t> vocabulary,
           const std::vector<BpeMerge>& merges, bool ignore_merges, std::size_t cache_capacity);

  // Appends the ids of one pre-token (raw bytes, non-empty) to `ids`.
  void Encode(std::string_view piece, std::vector<TokenId>* ids) const;
  // The same without the cache; `heap_from` picks the algorithm: pieces of at least
  // min(heap_from, kHeapFrom) bytes use the O(n log n) heap, shorter ones the O(n^2) scan
  // (exposed so that tests can compare the two).
  void EncodeUncached(std::string_view piece, std::vector<TokenId>* ids, std::size_t heap_from = kHeapFrom) const;

  // The id of a vocabulary entry given as raw bytes.
  const int32_t* Find(std::string_view bytes) const;
  const PieceCache& cache() const { return cache_; }
  std::size_t MergeCount() const { return merges_.Size(); }

  static constexpr std::size_t kHeapFrom = 96;

 private:
  void MergeByScan(int32_t* symbols, std::size_t* size) const;
  void MergeByHeap(std::vector<int32_t>* symbols) const;

  std::array<int32_t, 256> byte_ids_;
  std::unordered_map<std::string, int32_t> vocabulary_;
  MergeTable merges_;
  bool ignore_merges_;
  PieceCache cache_;
};

}  // namespace dpo
