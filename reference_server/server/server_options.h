// Everything dpo-reference-server is configured with: one struct with the defaults, filled from
// the command line or a YAML file (reference_server/app/server_config.h), checked by Validate().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reference_server/cache/score_cache.h"
#include "reference_server/engine/dynamic_batcher.h"

namespace dpo {

// Keepalive of the main port. A client may ping an idle connection at most every
// kMinClientPingIntervalMs (a client pinging more often gets GOAWAY "too_many_pings" after two
// strikes, so clients must set GRPC_ARG_KEEPALIVE_TIME_MS >= this); the server itself pings a
// connection idle for kServerKeepaliveTimeMs and drops it when no answer comes within
// kServerKeepaliveTimeoutMs, so dead trainer ranks do not hold connections forever.
inline constexpr int kMinClientPingIntervalMs = 10'000;
inline constexpr int kServerKeepaliveTimeMs = 60'000;
inline constexpr int kServerKeepaliveTimeoutMs = 20'000;

struct TlsOptions {
  std::string cert_file;       // PEM server certificate chain; with key_file enables TLS
  std::string key_file;        // PEM private key of cert_file
  std::string client_ca_file;  // PEM CA: when set, clients must present a certificate it signed (mTLS)
  bool enabled() const { return !cert_file.empty(); }
};

struct ServerOptions {
  std::string model_dir;                   // required: config.json + model.safetensors (+ tokenizer record)
  std::string tokenizer = "byte";          // tokenizer spec when the model directory records none
  std::string listen = "127.0.0.1:50051";  // HOST:PORT; port 0 picks a free port
  std::string health_listen;               // HOST:PORT of a plaintext health-only port; empty = none
  std::string metrics_listen;              // HOST:PORT of Prometheus /metrics (plain HTTP); empty = none
  std::string cache_dir = "reference-cache";
  uint64_t cache_map_size_bytes = 1ULL << 30;  // the LMDB size limit (it never grows past this)
  uint64_t cache_lru_entries = 1ULL << 18;     // in-memory entries in front of LMDB
  std::string cache_sync = "durable";          // durable | no_meta_sync | no_sync (score_cache.h)
  // max_batch_tokens, max_wait_ms, max_queued_requests, log_prob_chunk_tokens and
  // debug_forward_delay_ms: the dynamic batcher's own options (their defaults are there).
  BatcherOptions batcher;
  int64_t max_request_tokens = 1 << 20;        // tokens per Score request (ModelInfo reports it)
  int64_t threads = 0;                         // LibTorch intra-op threads; 0 = OMP_NUM_THREADS or all cores
  int64_t max_message_bytes = 64LL << 20;      // gRPC receive and send limit of the main port
  int64_t drain_timeout_ms = 30'000;           // SIGTERM: longest in-flight calls may take to finish
  TlsOptions tls;
  std::string auth_token_file;  // a file holding the bearer token; empty = no token required
  // Testing only: sleep before loading the model (observe NOT_SERVING).
  int64_t debug_load_delay_ms = 0;

  // Every problem at once, each naming the key, the value and the limit, e.g.
  // "max_batch_tokens: 0, must be at least 1", "listen: \"localhost\" is not HOST:PORT". Empty
  // when valid. Files are not opened here (that happens when the server starts).
  std::vector<std::string> Validate() const;

  BatcherOptions Batcher(int64_t pad_id) const;  // `batcher` with the model's pad id
  ScoreCacheOptions Cache() const;               // the cache's share (cache_sync parsed)
};

// "durable" -> kDurable, "no_meta_sync" -> kNoMetaSync, "no_sync" -> kNoSync. Throws
// Error(kInvalidInput) naming the value and the accepted names.
CacheSyncMode ParseCacheSyncMode(const std::string& name);

// Splits "HOST:PORT" at the last colon ("[::1]:50051" keeps its brackets). Returns false when
// there is no colon, the host is empty, or the port is not a number in [0, 65535].
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace dpo
