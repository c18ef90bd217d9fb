// Byte layouts of the persistent score cache: the 32-byte key of a scored sequence and the
// 16-byte record stored under it. Both are fixed little-endian formats: changing either means a
// new version tag, never a silent reinterpretation of old databases.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

// Key = SHA-256 of this message (every integer little-endian, no padding between fields):
//   kCacheKeyTag                    22 bytes "dpo-score-cache-key/v1", no terminator
//   uint32 fingerprint_size         bytes in the fingerprint
//   fingerprint                     the model fingerprint as sent on the wire (lower-case hex)
//   int32  completion_start         index of the first completion token
//   uint32 token_count
//   int32  token_ids[token_count]   prompt then completion, no padding
// Length prefixes make the encoding injective: no two (fingerprint, start, ids) share a message.
inline constexpr std::string_view kCacheKeyTag = "dpo-score-cache-key/v1";
inline constexpr std::size_t kCacheKeyBytes = 32;
using CacheKey = std::array<uint8_t, kCacheKeyBytes>;

struct CacheKeyHash {
  std::size_t operator()(const CacheKey& key) const;  // the key is already uniform: first 8 bytes
};

// Pure functions of their arguments; thread-safe.
CacheKey MakeCacheKey(std::string_view fingerprint, const int32_t* token_ids, std::size_t token_count,
                      int32_t completion_start);
// The same key from 64-bit ids (the trainer's TokenId). Throws Error(kInvalidInput) naming
// token_ids[j] and the value when an id does not fit in int32.
CacheKey MakeCacheKey(std::string_view fingerprint, const int64_t* token_ids, std::size_t token_count,
                      int32_t completion_start);

// Lower-case hex of a key, for logs and error messages.
std::string CacheKeyHex(const CacheKey& key);

// What the cache stores per sequence: the answer of one Score for one sequence.
struct CacheEntry {
  float sum_log_prob = 0.0F;    // float32, stored bit-exact
  int32_t completion_tokens = 0;
  bool operator==(const CacheEntry& other) const;  // bitwise on sum_log_prob (NaN == same NaN)
  bool operator!=(const CacheEntry& other) const { return !(*this == other); }
};

// Record layout (kCacheRecordBytes, little-endian):
//   byte  0       format version, kCacheRecordVersion
//   bytes 1..3    reserved, zero
//   bytes 4..7    sum_log_prob, IEEE binary32 bits
//   bytes 8..11   completion_tokens, int32
//   bytes 12..15  checksum, uint32 = the first 4 bytes (read little-endian) of
//                 SHA-256(key || bytes 0..11)
// The checksum covers the key, so a valid record copied under another key fails too.
inline constexpr std::size_t kCacheRecordBytes = 16;
inline constexpr uint8_t kCacheRecordVersion = 1;
using CacheRecord = std::array<uint8_t, kCacheRecordBytes>;

enum class RecordStatus {
  kOk,
  kWrongSize,     // not kCacheRecordBytes long
  kWrongVersion,  // byte 0 is not kCacheRecordVersion
  kBadChecksum,   // the bytes were changed after they were written
};
const char* RecordStatusName(RecordStatus status);

CacheRecord EncodeCacheRecord(const CacheKey& key, const CacheEntry& entry);
// Verifies `size` bytes at `data` as the record of `key`; `*entry` is set only when kOk.
RecordStatus DecodeCacheRecord(const CacheKey& key, const void* data, std::size_t size, CacheEntry* entry);

}  // namespace dpo
