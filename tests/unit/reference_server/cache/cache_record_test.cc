// Tests of the score cache's byte layouts (key and record) and of the in-memory LRU.
#include "reference_server/cache/cache_record.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/common/error.h"
#include "core/common/sha256.h"
#include "reference_server/cache/lru_map.h"

namespace dpo {
namespace {

CacheKey Key(const std::string& fingerprint, const std::vector<int32_t>& ids, int32_t start) {
  return MakeCacheKey(fingerprint, ids.data(), ids.size(), start);
}

void AppendLe32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

TEST(CacheKeyTest, MatchesTheDocumentedByteLayout) {
  const std::string fingerprint = "ab12";
  const std::vector<int32_t> ids = {5, -1, 70000};
  std::string message = "dpo-score-cache-key/v1";
  AppendLe32(message, 4);
  message += fingerprint;
  AppendLe32(message, 2);  // completion_start
  AppendLe32(message, 3);  // token count
  for (const int32_t id : ids) AppendLe32(message, static_cast<uint32_t>(id));
  Sha256 hasher;
  hasher.Update(message);
  EXPECT_EQ(CacheKeyHex(Key(fingerprint, ids, 2)), DigestToHex(hasher.Finish()));
}

TEST(CacheKeyTest, DeterministicAndEqualFor32And64BitIds) {
  const std::vector<int32_t> ids32 = {1, 2, 3, 50000};
  const std::vector<int64_t> ids64 = {1, 2, 3, 50000};
  const CacheKey key = Key("fp", ids32, 2);
  EXPECT_EQ(key, Key("fp", ids32, 2));
  EXPECT_EQ(key, MakeCacheKey("fp", ids64.data(), ids64.size(), 2));
}

TEST(CacheKeyTest, EveryInputChangesTheKey) {
  const CacheKey base = Key("fp-a", {1, 2, 3, 4}, 2);
  struct Case {
    const char* name;
    CacheKey key;
  };
  const std::vector<Case> cases = {
      {"fingerprint", Key("fp-b", {1, 2, 3, 4}, 2)},
      {"one token id", Key("fp-a", {1, 2, 3, 5}, 2)},
      {"completion start", Key("fp-a", {1, 2, 3, 4}, 3)},
      {"one token fewer", Key("fp-a", {1, 2, 3}, 2)},
      {"token order", Key("fp-a", {2, 1, 3, 4}, 2)},
      // Without length prefixes these would hash the same bytes as the base.
      {"fingerprint absorbing a byte", Key(std::string("fp-a") + '\x04', {1, 2, 3, 4}, 2)},
  };
  for (const Case& c : cases) EXPECT_NE(c.key, base) << c.name;
}

TEST(CacheKeyTest, RejectsIdsOutsideInt32) {
  const std::vector<int64_t> ids = {1, int64_t{1} << 31};
  try {
    MakeCacheKey("fp", ids.data(), ids.size(), 1);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(error.what(), "cache key: token_ids[1]: 2147483648 does not fit in int32");
  }
}

TEST(CacheRecordTest, RoundTripsBitExactValues) {
  const CacheKey key = Key("fp", {1, 2}, 1);
  const std::vector<CacheEntry> entries = {
      {-12.375F, 7},
      {-0.0F, 1},
      {std::numeric_limits<float>::denorm_min(), 2},
      {-std::numeric_limits<float>::max(), std::numeric_limits<int32_t>::max()},
      {std::nanf("0x123"), 3},
  };
  for (const CacheEntry& entry : entries) {
    const CacheRecord record = EncodeCacheRecord(key, entry);
    EXPECT_EQ(record[0], kCacheRecordVersion);
    CacheEntry decoded;
    ASSERT_EQ(DecodeCacheRecord(key, record.data(), record.size(), &decoded), RecordStatus::kOk);
    EXPECT_EQ(decoded, entry) << entry.sum_log_prob;
  }
}

TEST(CacheRecordTest, DetectsEveryKindOfDamage) {
  const CacheKey key = Key("fp", {1, 2}, 1);
  const CacheRecord good = EncodeCacheRecord(key, {-3.5F, 4});
  CacheEntry entry{99.0F, 99};
  EXPECT_EQ(DecodeCacheRecord(key, good.data(), good.size() - 1, &entry), RecordStatus::kWrongSize);
  std::vector<uint8_t> longer(good.begin(), good.end());
  longer.push_back(0);
  EXPECT_EQ(DecodeCacheRecord(key, longer.data(), longer.size(), &entry), RecordStatus::kWrongSize);
  CacheRecord version = good;
  version[0] = 2;
  EXPECT_EQ(DecodeCacheRecord(key, version.data(), version.size(), &entry), RecordStatus::kWrongVersion);
  for (std::size_t byte = 1; byte < kCacheRecordBytes; ++byte) {
    CacheRecord flipped = good;
    flipped[byte] ^= 0x10;
    EXPECT_EQ(DecodeCacheRecord(key, flipped.data(), flipped.size(), &entry), RecordStatus::kBadChecksum)
        << "byte " << byte;
  }
  // A valid record under another key fails: the checksum covers the key.
  const CacheKey other = Key("fp", {1, 3}, 1);
  EXPECT_EQ(DecodeCacheRecord(other, good.data(), good.size(), &entry), RecordStatus::kBadChecksum);
  EXPECT_EQ(entry, (CacheEntry{99.0F, 99})) << "a failed decode must not write the entry";
}

TEST(LruMapTest, EvictsTheLeastRecentlyUsed) {
  LruMap lru(2);
  const CacheKey a = Key("fp", {1, 2}, 1);
  const CacheKey b = Key("fp", {1, 3}, 1);
  const CacheKey c = Key("fp", {1, 4}, 1);
  lru.Put(a, {-1.0F, 1});
  lru.Put(b, {-2.0F, 1});
  ASSERT_TRUE(lru.Get(a).has_value());  // a is now the most recent; b goes next
  lru.Put(c, {-3.0F, 1});
  EXPECT_EQ(lru.size(), 2U);
  EXPECT_FALSE(lru.Get(b).has_value());
  EXPECT_EQ(lru.Get(a)->sum_log_prob, -1.0F);
  EXPECT_EQ(lru.Get(c)->sum_log_prob, -3.0F);
  lru.Put(c, {-4.0F, 2});  // replace in place
  EXPECT_EQ(*lru.Get(c), (CacheEntry{-4.0F, 2}));
  lru.Erase(a);
  EXPECT_FALSE(lru.Get(a).has_value());
  EXPECT_EQ(lru.size(), 1U);
}

TEST(LruMapTest, CapacityZeroStoresNothing) {
  LruMap lru(0);
  const CacheKey a = Key("fp", {1, 2}, 1);
  lru.Put(a, {-1.0F, 1});
  EXPECT_FALSE(lru.Get(a).has_value());
  EXPECT_EQ(lru.size(), 0U);
}

}  // namespace
}  // namespace dpo
