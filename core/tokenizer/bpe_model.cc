// BPE merging on raw bytes, the merge table and the pre-token cache.
#include "core/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <queue>

namespace dpo {

// ---- PieceCache ----

PieceCache::PieceCache(std::size_t capacity) {
  if (capacity == 0) return;
  capacity_ = 1;
  while (capacity_ * 2 <= capacity) capacity_ *= 2;
  slots_ = std::make_unique<Slot[]>(capacity_);
}

bool PieceCache::Find(std::string_view piece, std::vector<TokenId>* ids) const {
  if (capacity_ == 0 || piece.size() > kMaxPieceBytes) return false;
  const uint64_t hash = std::hash<std::string_view>()(piece);
  const Slot& slot = slots_[hash & (capacity_ - 1)];
  uint64_t words[kWords];
  const uint64_t before = slot.version.load(std::memory_order_acquire);
  if (before & 1) return false;  // being written
  for (std::size_t i = 0; i < kWords; ++i) words[i] = slot.words[i].load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (slot.version.load(std::memory_order_relaxed) != before) return false;
  const std::size_t key_size = words[1] & 0xFF, id_count = words[1] >> 8;
  if (words[0] != hash || key_size != piece.size() || key_size == 0 ||
      std::memcmp(reinterpret_cast<const char*>(words + kKeyWord), piece.data(), key_size) != 0) {
    return false;
  }
  int32_t stored[kMaxIds];
  std::memcpy(stored, words + kIdWord, sizeof(stored));
  ids->insert(ids->end(), stored, stored + id_count);
  return true;
}

void PieceCache::Insert(std::string_view piece, const TokenId* ids, std::size_t count) const {
  if (capacity_ == 0 || piece.empty() || piece.size() > kMaxPieceBytes || count > kMaxIds) return;
  const uint64_t hash = std::hash<std::string_view>()(piece);
  uint64_t words[kWords] = {};
  words[0] = hash;
  words[1] = piece.size() | (count << 8);
  std::memcpy(reinterpret_cast<char*>(words + kKeyWord), piece.data(), piece.size());
  int32_t stored[kMaxIds] = {};
  for (std::size_t i = 0; i < count; ++i) stored[i] = static_cast<int32_t>(ids[i]);
  std::memcpy(words + kIdWord, stored, sizeof(stored));

  Slot& slot = slots_[hash & (capacity_ - 1)];
  uint64_t version = slot.version.load(std::memory_order_relaxed);
  if ((version & 1) || !slot.version.compare_exchange_strong(version, version + 1, std::memory_order_relaxed)) {
    return;  // another thread is writing this slot
  }
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < kWords; ++i) slot.words[i].store(words[i], std::memory_order_relaxed);
  slot.version.store(version + 2, std::memory_order_release);
}

std::size_t PieceCache::Size() const {
  std::size_t size = 0;
  for (std::size_t i = 0; i < capacity_; ++i) size += slots_[i].words[1].load(std::memory_order_relaxed) != 0;
  return size;
}

// ---- MergeTable ----

namespace {

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

std::size_t MergeTable::SlotOf(uint64_t key) const {
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

void MergeTable::Reserve(std::size_t merges) {
  std::size_t slots = 16;
  int bits = 4;
  while (slots < merges * 2) slots *= 2, ++bits;
  if (slots <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(slots, Slot{});
  shift_ = 64 - bits;
  size_ = 0;
  for (const Slot& slot : old) {
    if (slot.key != kEmpty) {
      Insert(static_cast<int32_t>(slot.key >> 32), static_cast<int32_t>(slot.key & 0xFFFFFFFFu), slot.rank,
             slot.merged);
    }
  }
}

void MergeTable::Grow() { Reserve(std::max<std::size_t>(16, slots_.size())); }

void MergeTable::Insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  const uint64_t key = PairKey(left, right);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = SlotOf(key);; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.key == key) return;  // listed twice: the first (lower) rank wins
    if (slot.key == kEmpty) {
      slot = Slot{key, rank, merged};
      ++size_;
      return;
    }
  }
}

int32_t MergeTable::Find(int32_t left, int32_t right, int32_t* merged) const {
  if (slots_.empty()) return kNoMerge;
  const uint64_t key = PairKey(left, right);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = SlotOf(key);; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.key == key) {
      *merged = slot.merged;
      return slot.rank;
    }
    if (slot.key == kEmpty) return kNoMerge;
  }
}

// ---- BpeModel ----

BpeModel::BpeModel(std::array<int32_t, 256> byte_ids, std::unordered_map<std::string, int32_t> vocabulary,
                   const std::vector<BpeMerge>& merges, bool ignore_merges, std::size_t cache_capacity)
    : byte_ids_(byte_ids), vocabulary_(std::move(vocabulary)), ignore_merges_(ignore_merges), cache_(cache_capacity) {
  merges_.Reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    merges_.Insert(merges[rank].left, merges[rank].right, static_cast<int32_t>(rank), merges[rank].merged);
  }
}

const int32_t* BpeModel::Find(std::string_view bytes) const {
  const auto it = vocabulary_.find(std::string(bytes));
  return it == vocabulary_.end() ? nullptr : &it->second;
}

void BpeModel::Encode(std::string_view piece, std::vector<TokenId>* ids) const {
  if (piece.size() == 1) {
    ids->push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (cache_.Find(piece, ids)) return;
  const std::size_t first = ids->size();
  EncodeUncached(piece, ids);
  cache_.Insert(piece, ids->data() + first, ids->size() - first);
}

void BpeModel::EncodeUncached(std::string_view piece, std::vector<TokenId>* ids, std::size_t heap_from) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (const int32_t* whole = Find(piece)) {
      ids->push_back(*whole);
      return;
    }
  }
  if (piece.size() < std::min(heap_from, kHeapFrom)) {
    int32_t symbols[kHeapFrom];
    std::size_t size = piece.size();
    for (std::size_t i = 0; i < size; ++i) symbols[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    MergeByScan(symbols, &size);
    ids->insert(ids->end(), symbols, symbols + size);
    return;
  }
  std::vector<int32_t> symbols(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i) symbols[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
  MergeByHeap(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
}

// Short pieces: keep the rank of every adjacent pair, merge the leftmost lowest one, and look up
// only the two pairs a merge changes. Works in place on stack buffers.
void BpeModel::MergeByScan(int32_t* symbols, std::size_t* size) const {
  std::size_t n = *size;
  if (n < 2) return;
  int32_t ranks[kHeapFrom], merged[kHeapFrom];
  for (std::size_t i = 0; i + 1 < n; ++i) ranks[i] = merges_.Find(symbols[i], symbols[i + 1], &merged[i]);
  while (n > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == MergeTable::kNoMerge) break;
    symbols[best] = merged[best];
    const std::size_t tail = n - best - 2;  // entries after the removed one
    std::memmove(symbols + best + 1, symbols + best + 2, tail * sizeof(int32_t));
    std::memmove(ranks + best, ranks + best + 1, tail * sizeof(int32_t));
    std::memmove(merged + best, merged + best + 1, tail * sizeof(int32_t));
    --n;
    if (best + 1 < n) ranks[best] = merges_.Find(symbols[best], symbols[best + 1], &merged[best]);
    if (best > 0) ranks[best - 1] = merges_.Find(symbols[best - 1], symbols[best], &merged[best - 1]);
  }
  *size = n;
}

// Long pieces (whitespace runs, long words): a min-heap of (rank, position) over a linked list;
// stale entries are recognised by re-checking the pair. Same order as the scan: lowest rank,
// then leftmost position.
void BpeModel::MergeByHeap(std::vector<int32_t>* symbols_in) const {
  std::vector<int32_t>& symbols = *symbols_in;
  const int32_t n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (int32_t i = 0; i < n; ++i) next[i] = i + 1 < n ? i + 1 : -1, prev[i] = i - 1;
  using Entry = std::pair<int32_t, int32_t>;  // (rank, position of the left symbol)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  const auto push = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    int32_t merged = 0;
    const int32_t rank = merges_.Find(symbols[left], symbols[next[left]], &merged);
    if (rank != MergeTable::kNoMerge) heap.emplace(rank, left);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    if (!alive[left] || next[left] < 0) continue;
    const int32_t right = next[left];
    int32_t merged = 0;
    if (merges_.Find(symbols[left], symbols[right], &merged) != rank) continue;  // stale
    symbols[left] = merged;
    alive[right] = false;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    push(prev[left]);
    push(left);
  }
  std::size_t out = 0;
  for (int32_t i = 0; i >= 0 && i < n; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace dpo
