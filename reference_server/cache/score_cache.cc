// ScoreCache on LMDB: one unnamed database of 32-byte keys -> 16-byte verified records.
#include "reference_server/cache/score_cache.h"

#include <lmdb.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/common/error.h"
#include "core/common/problems.h"

namespace dpo {
namespace {

constexpr uint64_t kMinMapSizeBytes = 1ULL << 20;

// Aborts the transaction unless it was handed to mdb_txn_commit (which frees it either way).
struct TxnGuard {
  MDB_txn* txn = nullptr;
  ~TxnGuard() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
  int Commit() {
    MDB_txn* committing = txn;
    txn = nullptr;
    return mdb_txn_commit(committing);
  }
};

MDB_val KeyVal(const CacheKey& key) {
  MDB_val value;
  value.mv_size = key.size();
  value.mv_data = const_cast<uint8_t*>(key.data());  // LMDB's API is not const-correct
  return value;
}

unsigned SyncFlags(CacheSyncMode mode) {
  switch (mode) {
    case CacheSyncMode::kDurable: return 0;
    case CacheSyncMode::kNoMetaSync: return MDB_NOMETASYNC;
    case CacheSyncMode::kNoSync: return MDB_NOSYNC;
  }
  return 0;
}

}  // namespace

std::vector<std::string> ScoreCacheOptions::Validate() const {
  std::vector<std::string> problems;
  if (directory.empty()) problems.push_back("cache.directory: empty");
  if (map_size_bytes < kMinMapSizeBytes) {
    problems.push_back("cache.map_size_bytes: " + std::to_string(map_size_bytes) + " below the minimum of " +
                       std::to_string(kMinMapSizeBytes));
  }
  if (max_readers < 1) problems.push_back("cache.max_readers: 0, must be at least 1");
  return problems;
}

ScoreCache::ScoreCache(const ScoreCacheOptions& options) : options_(options), lru_(options.lru_entries) {
  const std::vector<std::string> problems = options_.Validate();
  ThrowIfProblems("score cache options:", problems);
  const std::string& dir = options_.directory;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw InvalidInput(dir + ": cannot create the cache directory: " + error.message());
  // Scores reveal what was trained on: the owner's alone (directory 0700, files 0600).
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, error);
  if (error) throw InvalidInput(dir + ": cannot make the cache directory private (mode 0700): " + error.message());

  auto fail = [&](const std::string& what, int code) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
    throw InvalidInput(dir + ": cannot open the score cache: " + what + ": " + mdb_strerror(code));
  };
  int rc = mdb_env_create(&env_);
  if (rc != 0) fail("mdb_env_create", rc);
  rc = mdb_env_set_mapsize(env_, options_.map_size_bytes);
  if (rc != 0) fail("map size " + std::to_string(options_.map_size_bytes), rc);
  rc = mdb_env_set_maxreaders(env_, options_.max_readers);
  if (rc != 0) fail("max readers " + std::to_string(options_.max_readers), rc);
  // MDB_NOTLS: read transactions are not tied to threads (gRPC handlers hop between them).
  rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS | SyncFlags(options_.sync_mode), 0600);
  if (rc != 0) fail("mdb_env_open", rc);
  // Reader slots of processes that were killed (SIGKILL) would otherwise stay taken.
  int stale_readers = 0;
  rc = mdb_reader_check(env_, &stale_readers);
  if (rc != 0) fail("mdb_reader_check", rc);

  TxnGuard guard;
  rc = mdb_txn_begin(env_, nullptr, 0, &guard.txn);
  if (rc != 0) fail("begin the first transaction", rc);
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(guard.txn, nullptr, 0, &dbi);
  if (rc != 0) fail("mdb_dbi_open", rc);
  rc = guard.Commit();
  if (rc != 0) fail("commit the first transaction", rc);
  dbi_ = dbi;
}

ScoreCache::~ScoreCache() {
  if (env_ != nullptr) mdb_env_close(env_);
}

void ScoreCache::ThrowLmdb(const char* operation, int code) const {
  throw Error(ErrorKind::kInternal,
              options_.directory + ": score cache: " + operation + " failed: " + mdb_strerror(code));
}

std::vector<std::optional<CacheEntry>> ScoreCache::Lookup(const std::vector<CacheKey>& keys) {
  std::vector<std::optional<CacheEntry>> results(keys.size());
  std::vector<std::size_t> pending;  // indexes the LRU did not answer
  for (std::size_t i = 0; i < keys.size(); ++i) {
    results[i] = lru_.Get(keys[i]);
    if (!results[i]) pending.push_back(i);
  }
  lru_hits_ += keys.size() - pending.size();

  std::vector<std::size_t> read_now;
  std::vector<CacheKey> corrupt_keys;
  if (!pending.empty()) {
    TxnGuard guard;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &guard.txn);
    if (rc != 0) ThrowLmdb("begin a read transaction", rc);
    for (const std::size_t i : pending) {
      MDB_val key = KeyVal(keys[i]);
      MDB_val value;
      rc = mdb_get(guard.txn, dbi_, &key, &value);
      if (rc == MDB_NOTFOUND) continue;
      if (rc != 0) ThrowLmdb("mdb_get", rc);
      CacheEntry entry;
      if (DecodeCacheRecord(keys[i], value.mv_data, value.mv_size, &entry) == RecordStatus::kOk) {
        results[i] = entry;
        read_now.push_back(i);
      } else {
        corrupt_keys.push_back(keys[i]);
      }
    }
    database_reads_ += pending.size();
  }  // the read transaction ends before any write begins
  for (const std::size_t i : read_now) lru_.Put(keys[i], *results[i]);
  if (!corrupt_keys.empty()) corrupt_ += DeleteCorrupt(corrupt_keys);

  const uint64_t hits = keys.size() - pending.size() + read_now.size();
  hits_ += hits;
  misses_ += keys.size() - hits;
  return results;
}

uint64_t ScoreCache::DeleteCorrupt(const std::vector<CacheKey>& keys) {
  TxnGuard guard;
  int rc = mdb_txn_begin(env_, nullptr, 0, &guard.txn);
  if (rc != 0) ThrowLmdb("begin a write transaction", rc);
  uint64_t confirmed = 0;
  for (const CacheKey& cache_key : keys) {
    MDB_val key = KeyVal(cache_key);
    MDB_val value;
    rc = mdb_get(guard.txn, dbi_, &key, &value);
    if (rc == MDB_NOTFOUND) continue;  // a duplicate key, or another thread deleted it first
    if (rc != 0) ThrowLmdb("mdb_get", rc);
    CacheEntry entry;
    if (DecodeCacheRecord(cache_key, value.mv_data, value.mv_size, &entry) == RecordStatus::kOk) {
      continue;  // rewritten by an Insert since our read
    }
    ++confirmed;
    rc = mdb_del(guard.txn, dbi_, &key, nullptr);
    // A full map can refuse even a delete (copy-on-write pages). The record stays unserved (it
    // fails verification on every read) until an Insert overwrites it.
    if (rc == MDB_MAP_FULL) return confirmed;
    if (rc != 0) ThrowLmdb("mdb_del", rc);
  }
  rc = guard.Commit();
  if (rc == MDB_MAP_FULL) return confirmed;
  if (rc != 0) ThrowLmdb("commit the deletion of corrupt records", rc);
  return confirmed;
}

void ScoreCache::Insert(const std::vector<std::pair<CacheKey, CacheEntry>>& records) {
  if (records.empty()) return;
  auto throw_full = [&]() {
    MDB_stat stat;
    const uint64_t stored = mdb_env_stat(env_, &stat) == 0 ? stat.ms_entries : 0;
    throw CacheFullError(options_.directory + ": score cache full: map_size_bytes=" +
                         std::to_string(options_.map_size_bytes) + " reached with " + std::to_string(stored) +
                         " records stored; the batch of " + std::to_string(records.size()) +
                         " records was not written (raise the cache map size or use a new cache directory)");
  };
  TxnGuard guard;
  int rc = mdb_txn_begin(env_, nullptr, 0, &guard.txn);
  if (rc != 0) ThrowLmdb("begin a write transaction", rc);
  for (const auto& [cache_key, entry] : records) {
    CacheRecord record = EncodeCacheRecord(cache_key, entry);
    MDB_val key = KeyVal(cache_key);
    MDB_val value;
    value.mv_size = record.size();
    value.mv_data = record.data();
    rc = mdb_put(guard.txn, dbi_, &key, &value, 0);
    if (rc == MDB_MAP_FULL) {
      mdb_txn_abort(guard.txn);
      guard.txn = nullptr;
      throw_full();
    }
    if (rc != 0) ThrowLmdb("mdb_put", rc);
  }
  rc = guard.Commit();
  if (rc == MDB_MAP_FULL) throw_full();
  if (rc != 0) ThrowLmdb("commit an insert", rc);
  for (const auto& [cache_key, entry] : records) lru_.Put(cache_key, entry);
  inserted_ += records.size();
}

ScoreCacheStats ScoreCache::Stats() const {
  ScoreCacheStats stats;
  MDB_stat stat;
  int rc = mdb_env_stat(env_, &stat);
  if (rc != 0) ThrowLmdb("mdb_env_stat", rc);
  MDB_envinfo info;
  rc = mdb_env_info(env_, &info);
  if (rc != 0) ThrowLmdb("mdb_env_info", rc);
  stats.entries = stat.ms_entries;
  stats.map_size_bytes = info.me_mapsize;
  stats.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.corrupt = corrupt_.load();
  stats.lru_hits = lru_hits_.load();
  stats.database_reads = database_reads_.load();
  stats.inserted = inserted_.load();
  return stats;
}

CacheVerifyResult ScoreCache::VerifyAll() {
  CacheVerifyResult result;
  TxnGuard guard;
  int rc = mdb_txn_begin(env_, nullptr, 0, &guard.txn);
  if (rc != 0) ThrowLmdb("begin a write transaction", rc);
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(guard.txn, dbi_, &cursor);
  if (rc != 0) ThrowLmdb("mdb_cursor_open", rc);
  MDB_val key;
  MDB_val value;
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    ++result.records;
    CacheKey cache_key{};
    bool good = key.mv_size == cache_key.size();
    if (good) {
      std::copy_n(static_cast<const uint8_t*>(key.mv_data), cache_key.size(), cache_key.begin());
      CacheEntry entry;
      good = DecodeCacheRecord(cache_key, value.mv_data, value.mv_size, &entry) == RecordStatus::kOk;
    }
    if (good) continue;
    ++result.corrupt;
    const int deleted = mdb_cursor_del(cursor, 0);  // MDB_NEXT then yields the following record
    if (deleted != 0) {
      mdb_cursor_close(cursor);
      ThrowLmdb("mdb_cursor_del", deleted);
    }
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) ThrowLmdb("mdb_cursor_get", rc);
  rc = guard.Commit();
  if (rc != 0) ThrowLmdb("commit the deletion of corrupt records", rc);
  corrupt_ += result.corrupt;
  return result;
}

void ScoreCache::Sync() {
  const int rc = mdb_env_sync(env_, 1);
  if (rc != 0) ThrowLmdb("mdb_env_sync", rc);
}

}  // namespace dpo
