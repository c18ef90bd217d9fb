// ScoreCache: the reference server's persistent cache of per-sequence scores, in LMDB, with an
// in-memory LRU in front. Records are verified on every database read; a bad record is counted,
// deleted and reported as a miss so that the caller recomputes it -- never served.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "reference_server/cache/cache_record.h"
#include "reference_server/cache/lru_map.h"

struct MDB_env;  // lmdb.h stays out of this header

namespace dpo {

// When a committed write reaches the disk. In every mode a commit that returned survives the
// process being killed (SIGKILL included): LMDB writes the pages before the commit returns and
// never overwrites live pages in place, so the database always opens at the last commit and a
// transaction is all or nothing. The modes differ only on an OS crash or power cut.
enum class CacheSyncMode {
  kDurable,     // fsync at every commit (LMDB's default): committed means on disk
  kNoMetaSync,  // MDB_NOMETASYNC: an OS crash may lose the last commit; the database stays intact
  kNoSync,      // MDB_NOSYNC: an OS crash may lose recent commits; Sync() flushes them
};

struct ScoreCacheOptions {
  std::string directory;                  // created if missing; holds data.mdb and lock.mdb
  uint64_t map_size_bytes = 1ULL << 30;   // the database's hard size limit (it does not grow)
  std::size_t lru_entries = 1U << 18;     // in-memory entries in front; 0 disables the LRU
  CacheSyncMode sync_mode = CacheSyncMode::kDurable;
  unsigned max_readers = 512;             // concurrent Lookup calls (LMDB reader slots)

  // Every problem at once, e.g. {"cache.directory: empty"}; empty when valid.
  std::vector<std::string> Validate() const;
};

// Counters since this object was opened, except `entries` (records in the database now).
struct ScoreCacheStats {
  uint64_t entries = 0;
  uint64_t hits = 0;            // keys answered, from the LRU or the database
  uint64_t misses = 0;          // keys not found, corrupt ones included
  uint64_t corrupt = 0;         // records that failed verification and were deleted
  uint64_t lru_hits = 0;        // hits that never touched the database
  uint64_t database_reads = 0;  // keys looked up in LMDB (LRU misses)
  uint64_t inserted = 0;        // records written by Insert
  uint64_t map_size_bytes = 0;  // the limit
  uint64_t used_bytes = 0;      // pages in use, out of map_size_bytes
};

struct CacheVerifyResult {
  uint64_t records = 0;  // records scanned
  uint64_t corrupt = 0;  // records that failed verification (all of them deleted)
};

// Thrown by Insert when the database has reached map_size_bytes. The transaction is rolled back
// (nothing of that batch is stored) and the cache stays usable for reads: a server should keep
// answering, count the failure and say which limit to raise.
class CacheFullError : public Error {
 public:
  explicit CacheFullError(const std::string& message) : Error(ErrorKind::kInternal, message) {}
};

// Thread safety: Lookup, Insert, Stats, VerifyAll and Sync may be called concurrently from any
// threads. Lookups run in parallel (one LMDB read transaction each, MVCC: they never wait for a
// writer); writes -- Insert, and the deletion of corrupt records found by Lookup -- serialise on
// LMDB's single-writer lock. Construction and destruction must not race with other calls.
// Processes: a directory may be opened by several processes (LMDB's lock file coordinates them),
// but an open ScoreCache must not be used in a child after fork(); open a new one there.
class ScoreCache {
 public:
  // Opens or creates the database. Throws Error(kInvalidInput) naming the directory and the
  // system's reason when it cannot be created or opened (permissions, not a directory, a file
  // larger than map_size_bytes that cannot be mapped), or when the options are invalid.
  explicit ScoreCache(const ScoreCacheOptions& options);
  ~ScoreCache();
  ScoreCache(const ScoreCache&) = delete;
  ScoreCache& operator=(const ScoreCache&) = delete;

  // One result per key, in order: the entry, or nullopt on a miss. Keys the LRU holds cost no
  // database access; the rest are read in one read transaction. Records failing verification are
  // deleted in one write transaction afterwards (only if still bad then) and returned as misses.
  // Throws Error(kInternal) naming the directory on an LMDB failure.
  std::vector<std::optional<CacheEntry>> Lookup(const std::vector<CacheKey>& keys);

  // Writes (or overwrites) every record in one write transaction, then into the LRU. Atomic: after
  // a crash either all of the batch is in the database or none of it. Throws CacheFullError when
  // the map is full, Error(kInternal) naming the directory on any other LMDB failure.
  void Insert(const std::vector<std::pair<CacheKey, CacheEntry>>& records);

  ScoreCacheStats Stats() const;

  // Scans the whole database, verifying every record and deleting the bad ones (counted in
  // Stats().corrupt too). For startup checks and tests; holds the write lock while it runs.
  CacheVerifyResult VerifyAll();

  // Flushes commits to disk (a no-op beyond an fsync in kDurable mode). Call at shutdown.
  void Sync();

  const std::string& directory() const { return options_.directory; }

 private:
  // Deletes the records of `keys` that still fail verification; returns how many it deleted.
  uint64_t DeleteCorrupt(const std::vector<CacheKey>& keys);
  [[noreturn]] void ThrowLmdb(const char* operation, int code) const;

  ScoreCacheOptions options_;
  MDB_env* env_ = nullptr;
  unsigned dbi_ = 0;  // MDB_dbi of the unnamed main database
  LruMap lru_;

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> corrupt_{0};
  std::atomic<uint64_t> lru_hits_{0};
  std::atomic<uint64_t> database_reads_{0};
  std::atomic<uint64_t> inserted_{0};
};

}  // namespace dpo
