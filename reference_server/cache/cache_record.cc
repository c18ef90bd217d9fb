// Key hashing and record encoding of the score cache; layouts are documented in the header.
#include "reference_server/cache/cache_record.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/common/error.h"
#include "core/common/sha256.h"

namespace dpo {
namespace {

void PutU32(uint8_t* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t GetU32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

uint32_t FloatBits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float FloatFromBits(uint32_t bits) {
  float value = 0.0F;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

void UpdateU32(Sha256& hasher, uint32_t value) {
  uint8_t bytes[4];
  PutU32(bytes, value);
  hasher.Update(bytes, sizeof bytes);
}

// Hashes everything up to (not including) the token ids.
void HashKeyPrefix(Sha256& hasher, std::string_view fingerprint, std::size_t token_count,
                   int32_t completion_start) {
  hasher.Update(kCacheKeyTag);
  UpdateU32(hasher, static_cast<uint32_t>(fingerprint.size()));
  hasher.Update(fingerprint);
  UpdateU32(hasher, static_cast<uint32_t>(completion_start));
  UpdateU32(hasher, static_cast<uint32_t>(token_count));
}

// Token ids go through a small buffer so that hashing costs one Update per 256 ids.
template <typename Id>
CacheKey HashKey(std::string_view fingerprint, const Id* token_ids, std::size_t token_count,
                 int32_t completion_start) {
  if (token_count > std::numeric_limits<uint32_t>::max()) {
    throw InvalidInput("cache key: " + std::to_string(token_count) + " tokens exceed the limit of 2^32 - 1");
  }
  Sha256 hasher;
  HashKeyPrefix(hasher, fingerprint, token_count, completion_start);
  constexpr std::size_t kChunk = 256;
  uint8_t buffer[kChunk * 4];
  for (std::size_t begin = 0; begin < token_count; begin += kChunk) {
    const std::size_t end = std::min(token_count, begin + kChunk);
    for (std::size_t j = begin; j < end; ++j) {
      const Id id = token_ids[j];
      if (id < std::numeric_limits<int32_t>::min() || id > std::numeric_limits<int32_t>::max()) {
        throw InvalidInput("cache key: token_ids[" + std::to_string(j) + "]: " + std::to_string(id) +
                           " does not fit in int32");
      }
      PutU32(buffer + 4 * (j - begin), static_cast<uint32_t>(static_cast<int32_t>(id)));
    }
    hasher.Update(buffer, 4 * (end - begin));
  }
  return hasher.Finish();
}

uint32_t RecordChecksum(const CacheKey& key, const uint8_t* record_head) {
  Sha256 hasher;
  hasher.Update(key.data(), key.size());
  hasher.Update(record_head, 12);
  return GetU32(hasher.Finish().data());
}

}  // namespace

std::size_t CacheKeyHash::operator()(const CacheKey& key) const {
  std::size_t value = 0;
  std::memcpy(&value, key.data(), sizeof value);
  return value;
}

CacheKey MakeCacheKey(std::string_view fingerprint, const int32_t* token_ids, std::size_t token_count,
                      int32_t completion_start) {
  return HashKey(fingerprint, token_ids, token_count, completion_start);
}

CacheKey MakeCacheKey(std::string_view fingerprint, const int64_t* token_ids, std::size_t token_count,
                      int32_t completion_start) {
  return HashKey(fingerprint, token_ids, token_count, completion_start);
}

std::string CacheKeyHex(const CacheKey& key) { return DigestToHex(key); }

bool CacheEntry::operator==(const CacheEntry& other) const {
  return FloatBits(sum_log_prob) == FloatBits(other.sum_log_prob) &&
         completion_tokens == other.completion_tokens;
}

const char* RecordStatusName(RecordStatus status) {
  switch (status) {
    case RecordStatus::kOk: return "ok";
    case RecordStatus::kWrongSize: return "wrong size";
    case RecordStatus::kWrongVersion: return "wrong format version";
    case RecordStatus::kBadChecksum: return "bad checksum";
  }
  return "unknown";
}

CacheRecord EncodeCacheRecord(const CacheKey& key, const CacheEntry& entry) {
  CacheRecord record{};
  record[0] = kCacheRecordVersion;
  PutU32(record.data() + 4, FloatBits(entry.sum_log_prob));
  PutU32(record.data() + 8, static_cast<uint32_t>(entry.completion_tokens));
  PutU32(record.data() + 12, RecordChecksum(key, record.data()));
  return record;
}

RecordStatus DecodeCacheRecord(const CacheKey& key, const void* data, std::size_t size, CacheEntry* entry) {
  if (size != kCacheRecordBytes) return RecordStatus::kWrongSize;
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes[0] != kCacheRecordVersion) return RecordStatus::kWrongVersion;
  if (GetU32(bytes + 12) != RecordChecksum(key, bytes)) return RecordStatus::kBadChecksum;
  entry->sum_log_prob = FloatFromBits(GetU32(bytes + 4));
  entry->completion_tokens = static_cast<int32_t>(GetU32(bytes + 8));
  return RecordStatus::kOk;
}

}  // namespace dpo
