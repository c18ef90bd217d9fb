// Tests of ScoreCache: round trips, persistence, the LRU layer, corruption handling, a full map,
// concurrent readers, and a writer SIGKILLed mid-stream.
#include "reference_server/cache/score_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;
using Records = std::vector<std::pair<CacheKey, CacheEntry>>;

// Sequence number `index` -> a distinct key and a value that depends on it.
CacheKey IndexKey(int64_t index) {
  const std::vector<int32_t> ids = {7, static_cast<int32_t>(index), static_cast<int32_t>(index % 13)};
  return MakeCacheKey("fingerprint", ids.data(), ids.size(), 1);
}
CacheEntry IndexEntry(int64_t index) {
  return {-0.25F * static_cast<float>(index) - 1.0F / 3.0F, static_cast<int32_t>(index % 100 + 1)};
}
Records IndexRecords(int64_t begin, int64_t end) {
  Records records;
  for (int64_t i = begin; i < end; ++i) records.emplace_back(IndexKey(i), IndexEntry(i));
  return records;
}
std::vector<CacheKey> IndexKeys(int64_t begin, int64_t end) {
  std::vector<CacheKey> keys;
  for (int64_t i = begin; i < end; ++i) keys.push_back(IndexKey(i));
  return keys;
}

ScoreCacheOptions Options(const std::string& directory, std::size_t lru_entries = 1024) {
  ScoreCacheOptions options;
  options.directory = directory;
  options.lru_entries = lru_entries;
  options.map_size_bytes = 64ULL << 20;
  return options;
}

// Writes raw bytes under `key` with LMDB directly (the ScoreCache for `directory` must be closed).
void WriteRaw(const std::string& directory, const CacheKey& key, const std::string& bytes) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, directory.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  MDB_val k{key.size(), const_cast<uint8_t*>(key.data())};
  MDB_val v{bytes.size(), const_cast<char*>(bytes.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(ScoreCacheTest, InsertThenLookupRoundTripsAndMissesStayMisses) {
  TempDir dir;
  ScoreCache cache(Options(dir.path()));
  cache.Insert(IndexRecords(0, 10));
  const auto found = cache.Lookup(IndexKeys(5, 15));
  ASSERT_EQ(found.size(), 10U);
  for (int64_t i = 5; i < 15; ++i) {
    if (i < 10) {
      ASSERT_TRUE(found[i - 5].has_value()) << i;
      EXPECT_EQ(*found[i - 5], IndexEntry(i));
    } else {
      EXPECT_FALSE(found[i - 5].has_value()) << i;
    }
  }
  const ScoreCacheStats stats = cache.Stats();
  EXPECT_EQ(stats.entries, 10U);
  EXPECT_EQ(stats.hits, 5U);
  EXPECT_EQ(stats.misses, 5U);
  EXPECT_EQ(stats.inserted, 10U);
  EXPECT_EQ(stats.corrupt, 0U);
  EXPECT_GT(stats.used_bytes, 0U);
  EXPECT_EQ(stats.map_size_bytes, 64ULL << 20);
}

TEST(ScoreCacheTest, TheCacheIsTheOwnersAlone) {
  TempDir dir;
  const std::string cache_dir = dir.File("cache");
  ScoreCache cache(Options(cache_dir));
  cache.Insert(IndexRecords(0, 3));
  namespace fs = std::filesystem;
  EXPECT_EQ(fs::status(cache_dir).permissions() & fs::perms::all, fs::perms::owner_all);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(cache_dir)) {
    ++files;
    EXPECT_EQ(entry.status().permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
        << entry.path();
  }
  EXPECT_GE(files, 2);  // data.mdb and lock.mdb
}

TEST(ScoreCacheTest, PersistsAcrossCloseAndReopen) {
  TempDir dir;
  { ScoreCache(Options(dir.path())).Insert(IndexRecords(0, 100)); }
  ScoreCache cache(Options(dir.path()));
  EXPECT_EQ(cache.Stats().entries, 100U);
  const auto found = cache.Lookup(IndexKeys(0, 100));
  for (int64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(found[i].has_value()) << i;
    EXPECT_EQ(*found[i], IndexEntry(i));
  }
  EXPECT_EQ(cache.Stats().database_reads, 100U);  // a fresh process has an empty LRU
}

TEST(ScoreCacheTest, LruHitsDoNotTouchTheDatabase) {
  TempDir dir;
  { ScoreCache(Options(dir.path())).Insert(IndexRecords(0, 4)); }
  ScoreCache cache(Options(dir.path()));
  cache.Lookup(IndexKeys(0, 4));  // database -> LRU
  cache.Lookup(IndexKeys(0, 4));
  cache.Lookup(IndexKeys(0, 2));
  const ScoreCacheStats stats = cache.Stats();
  EXPECT_EQ(stats.database_reads, 4U);
  EXPECT_EQ(stats.lru_hits, 6U);
  EXPECT_EQ(stats.hits, 10U);
  cache.Insert(IndexRecords(4, 6));  // inserts go to the LRU too
  cache.Lookup(IndexKeys(4, 6));
  EXPECT_EQ(cache.Stats().database_reads, 4U);
}

TEST(ScoreCacheTest, WithoutLruEveryLookupReadsTheDatabase) {
  TempDir dir;
  ScoreCache cache(Options(dir.path(), /*lru_entries=*/0));
  cache.Insert(IndexRecords(0, 3));
  cache.Lookup(IndexKeys(0, 3));
  cache.Lookup(IndexKeys(0, 3));
  EXPECT_EQ(cache.Stats().database_reads, 6U);
  EXPECT_EQ(cache.Stats().lru_hits, 0U);
  EXPECT_EQ(cache.Stats().hits, 6U);
}

TEST(ScoreCacheTest, BadRecordsAreCountedDeletedAndNeverServed) {
  const CacheKey key = IndexKey(1);
  const CacheRecord good = EncodeCacheRecord(key, IndexEntry(1));
  std::string wrong_version(good.begin(), good.end());
  wrong_version[0] = 9;
  std::string bad_checksum(good.begin(), good.end());
  bad_checksum[5] ^= 0x01;  // a bit of sum_log_prob
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"wrong size", std::string(good.begin(), good.end() - 1)},
      {"wrong version", wrong_version},
      {"bad checksum", bad_checksum},
  };
  for (const auto& [name, bytes] : cases) {
    TempDir dir;
    { ScoreCache(Options(dir.path())).Insert(IndexRecords(0, 3)); }
    WriteRaw(dir.path(), key, bytes);
    ScoreCache cache(Options(dir.path()));
    const auto found = cache.Lookup({key, IndexKey(0)});
    EXPECT_FALSE(found[0].has_value()) << name;
    EXPECT_EQ(*found[1], IndexEntry(0)) << name;
    ScoreCacheStats stats = cache.Stats();
    EXPECT_EQ(stats.corrupt, 1U) << name;
    EXPECT_EQ(stats.misses, 1U) << name;
    EXPECT_EQ(stats.entries, 2U) << name << ": the bad record is deleted";
    EXPECT_FALSE(cache.Lookup({key})[0].has_value()) << name;
    EXPECT_EQ(cache.Stats().corrupt, 1U) << name << ": counted once";
    cache.Insert({{key, IndexEntry(1)}});  // the recomputed value
    EXPECT_EQ(*cache.Lookup({key})[0], IndexEntry(1)) << name;
  }
}

TEST(ScoreCacheTest, FlippedByteInDataFileIsDetected) {
  TempDir dir;
  const CacheKey key = IndexKey(42);
  { ScoreCache(Options(dir.path())).Insert({{key, IndexEntry(42)}}); }
  const std::string path = dir.File("data.mdb");
  std::string data;
  {
    std::ifstream in(path, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const CacheRecord record = EncodeCacheRecord(key, IndexEntry(42));
  const std::string needle(record.begin(), record.end());
  const std::size_t offset = data.find(needle);
  ASSERT_NE(offset, std::string::npos);
  ASSERT_EQ(data.find(needle, offset + 1), std::string::npos) << "the record must be stored once";
  data[offset + 9] ^= 0x40;  // completion_tokens
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  {
    ScoreCache cache(Options(dir.path()));
    EXPECT_FALSE(cache.Lookup({key})[0].has_value());
    EXPECT_EQ(cache.Stats().corrupt, 1U);
    EXPECT_EQ(cache.Stats().entries, 0U);
    cache.Insert({{key, IndexEntry(42)}});
  }
  ScoreCache reopened(Options(dir.path()));
  EXPECT_EQ(*reopened.Lookup({key})[0], IndexEntry(42));
  EXPECT_EQ(reopened.Stats().corrupt, 0U);
}

TEST(ScoreCacheTest, VerifyAllDeletesOnlyBadRecords) {
  TempDir dir;
  { ScoreCache(Options(dir.path())).Insert(IndexRecords(0, 50)); }
  WriteRaw(dir.path(), IndexKey(10), "short");
  WriteRaw(dir.path(), IndexKey(20), std::string(kCacheRecordBytes, '\x01'));
  ScoreCache cache(Options(dir.path()));
  const CacheVerifyResult result = cache.VerifyAll();
  EXPECT_EQ(result.records, 50U);
  EXPECT_EQ(result.corrupt, 2U);
  EXPECT_EQ(cache.Stats().entries, 48U);
  EXPECT_EQ(cache.Stats().corrupt, 2U);
  EXPECT_EQ(cache.VerifyAll().corrupt, 0U);
}

TEST(ScoreCacheTest, FullMapFailsClearlyAndStaysReadable) {
  TempDir dir;
  ScoreCacheOptions options = Options(dir.path());
  options.map_size_bytes = 1ULL << 20;
  ScoreCache cache(options);
  constexpr int64_t kBatch = 1000;
  int64_t stored_batches = 0;
  try {
    for (; stored_batches < 200; ++stored_batches) {
      cache.Insert(IndexRecords(stored_batches * kBatch, (stored_batches + 1) * kBatch));
    }
    FAIL() << "1 MiB should not hold 200000 records";
  } catch (const CacheFullError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(dir.path() + ": score cache full: map_size_bytes=1048576 reached"), std::string::npos)
        << message;
    EXPECT_NE(message.find("batch of 1000 records was not written"), std::string::npos) << message;
  }
  ASSERT_GT(stored_batches, 0);
  EXPECT_EQ(cache.Stats().entries, static_cast<uint64_t>(stored_batches * kBatch));
  EXPECT_EQ(*cache.Lookup({IndexKey(0)})[0], IndexEntry(0));
  EXPECT_FALSE(cache.Lookup({IndexKey(stored_batches * kBatch)})[0].has_value());
}

TEST(ScoreCacheTest, OpenErrorsNameTheDirectory) {
  TempDir dir;
  const std::string file = dir.File("not-a-directory");
  std::ofstream(file) << "x";
  try {
    ScoreCache cache(Options(file + "/cache"));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()).rfind(file + "/cache: cannot create the cache directory: ", 0), 0U)
        << error.what();
  }
}

TEST(ScoreCacheTest, ValidateReportsEveryProblem) {
  ScoreCacheOptions options;
  options.map_size_bytes = 4096;
  options.max_readers = 0;
  const std::vector<std::string> expected = {
      "cache.directory: empty",
      "cache.map_size_bytes: 4096 below the minimum of 1048576",
      "cache.max_readers: 0, must be at least 1",
  };
  EXPECT_EQ(options.Validate(), expected);
  EXPECT_THROW(ScoreCache{options}, Error);
}

TEST(ScoreCacheTest, ConcurrentReadersSeeCorrectValuesWhileOneThreadWrites) {
  TempDir dir;
  ScoreCache cache(Options(dir.path(), /*lru_entries=*/64));
  cache.Insert(IndexRecords(0, 200));
  std::vector<std::thread> readers;
  std::vector<int> wrong(4, 0);
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&cache, &wrong, r] {
      for (int round = 0; round < 50; ++round) {
        const auto found = cache.Lookup(IndexKeys(0, 200));
        for (int64_t i = 0; i < 200; ++i) {
          if (!found[i] || *found[i] != IndexEntry(i)) ++wrong[r];
        }
      }
    });
  }
  for (int64_t batch = 1; batch <= 20; ++batch) cache.Insert(IndexRecords(batch * 200, (batch + 1) * 200));
  for (std::thread& reader : readers) reader.join();
  for (int r = 0; r < 4; ++r) EXPECT_EQ(wrong[r], 0) << "reader " << r;
  EXPECT_EQ(cache.Stats().entries, 21U * 200U);
}

// A child process inserts batches until it is SIGKILLed; the parent then reopens the database.
class ScoreCacheKillTest : public ::testing::TestWithParam<CacheSyncMode> {};

TEST_P(ScoreCacheKillTest, SigkillDuringWritesLeavesWholeCommittedBatches) {
  TempDir dir;
  constexpr int64_t kBatch = 64;
  ScoreCacheOptions options = Options(dir.path(), /*lru_entries=*/0);
  options.sync_mode = GetParam();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    try {
      ScoreCache cache(options);  // opened after fork: an LMDB env never crosses fork()
      for (int64_t batch = 0;; ++batch) {
        cache.Insert(IndexRecords(batch * kBatch, (batch + 1) * kBatch));
        if (batch == 0 && write(ready[1], "1", 1) != 1) _exit(4);
      }
    } catch (...) {
      _exit(3);
    }
  }
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child failed before its first commit";
  close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  ScoreCache cache(options);
  const uint64_t entries = cache.Stats().entries;
  RecordProperty("committed_records", std::to_string(entries));
  EXPECT_GE(entries, static_cast<uint64_t>(kBatch));
  EXPECT_EQ(entries % kBatch, 0U) << entries << " records: a transaction was torn";
  const CacheVerifyResult verify = cache.VerifyAll();
  EXPECT_EQ(verify.records, entries);
  EXPECT_EQ(verify.corrupt, 0U);
  const auto count = static_cast<int64_t>(entries);
  const auto found = cache.Lookup(IndexKeys(0, count + kBatch));
  int64_t present = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (found[i] && *found[i] == IndexEntry(i)) ++present;
  }
  EXPECT_EQ(present, count) << "batches are committed in order: the first entries/kBatch are whole";
  for (int64_t i = count; i < count + kBatch; ++i) EXPECT_FALSE(found[i].has_value()) << i;
  cache.Insert(IndexRecords(count, count + kBatch));  // the database takes writes again
  EXPECT_EQ(cache.Stats().entries, entries + kBatch);
}

INSTANTIATE_TEST_SUITE_P(SyncModes, ScoreCacheKillTest,
                         ::testing::Values(CacheSyncMode::kDurable, CacheSyncMode::kNoMetaSync,
                                           CacheSyncMode::kNoSync),
                         [](const ::testing::TestParamInfo<CacheSyncMode>& info) {
                           switch (info.param) {
                             case CacheSyncMode::kDurable: return std::string("Durable");
                             case CacheSyncMode::kNoMetaSync: return std::string("NoMetaSync");
                             case CacheSyncMode::kNoSync: return std::string("NoSync");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace dpo
