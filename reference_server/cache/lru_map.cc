// LruMap: a list in recency order plus a hash index into it; O(1) per operation.
#include "reference_server/cache/lru_map.h"

namespace dpo {

std::optional<CacheEntry> LruMap::Get(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  items_.splice(items_.begin(), items_, found->second);
  return found->second->second;
}

void LruMap::Put(const CacheKey& key, const CacheEntry& entry) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = index_.find(key);
  if (found != index_.end()) {
    found->second->second = entry;
    items_.splice(items_.begin(), items_, found->second);
    return;
  }
  if (items_.size() >= capacity_) {
    index_.erase(items_.back().first);
    items_.pop_back();
  }
  items_.emplace_front(key, entry);
  index_.emplace(key, items_.begin());
}

void LruMap::Erase(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = index_.find(key);
  if (found == index_.end()) return;
  items_.erase(found->second);
  index_.erase(found);
}

std::size_t LruMap::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

}  // namespace dpo
