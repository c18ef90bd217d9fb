// A bounded least-recently-used map from cache keys to entries: the in-memory layer in front of
// the LMDB score cache, so that repeated sequences never cost a database read.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "reference_server/cache/cache_record.h"

namespace dpo {

// Holds at most `capacity` entries; inserting into a full map evicts the least recently used
// one. Capacity 0 disables it (Get always misses, Put stores nothing).
// Thread safety: every method locks one internal mutex; safe from any number of threads.
class LruMap {
 public:
  explicit LruMap(std::size_t capacity) : capacity_(capacity) {}
  LruMap(const LruMap&) = delete;
  LruMap& operator=(const LruMap&) = delete;

  // The entry, made most recently used; nullopt when absent.
  std::optional<CacheEntry> Get(const CacheKey& key);
  // Inserts or replaces, made most recently used.
  void Put(const CacheKey& key, const CacheEntry& entry);
  void Erase(const CacheKey& key);

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  using Item = std::pair<CacheKey, CacheEntry>;

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Item> items_;  // most recently used first
  std::unordered_map<CacheKey, std::list<Item>::iterator, CacheKeyHash> index_;
};

}  // namespace dpo
