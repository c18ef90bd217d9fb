// ServerOptions: validation and the hand-off to the batcher and the cache.
#include "reference_server/server/server_options.h"

#include <cctype>

#include "core/common/error.h"

namespace dpo {

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  const std::string digits = address.substr(colon + 1);
  if (digits.size() > 5) return false;
  for (const char c : digits) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  const int value = std::stoi(digits);
  if (value > 65535) return false;
  *host = address.substr(0, colon);
  *port = value;
  return true;
}

CacheSyncMode ParseCacheSyncMode(const std::string& name) {
  if (name == "durable") return CacheSyncMode::kDurable;
  if (name == "no_meta_sync") return CacheSyncMode::kNoMetaSync;
  if (name == "no_sync") return CacheSyncMode::kNoSync;
  throw InvalidInput("cache_sync: \"" + name + "\" must be one of: durable, no_meta_sync, no_sync");
}

std::vector<std::string> ServerOptions::Validate() const {
  std::vector<std::string> problems;
  auto at_least = [&](const char* key, int64_t value, int64_t minimum) {
    if (value < minimum) {
      problems.push_back(std::string(key) + ": " + std::to_string(value) + ", must be at least " +
                         std::to_string(minimum));
    }
  };
  auto address = [&](const char* key, const std::string& value) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(value, &host, &port)) {
      problems.push_back(std::string(key) + ": \"" + value + "\" is not HOST:PORT with a port in [0, 65535]");
    }
  };
  if (model_dir.empty()) problems.push_back("model: empty; give the reference model's directory");
  if (tokenizer.empty()) problems.push_back("tokenizer: empty");
  address("listen", listen);
  if (!health_listen.empty()) address("health_listen", health_listen);
  if (!metrics_listen.empty()) address("metrics_listen", metrics_listen);
  if (cache_dir.empty()) problems.push_back("cache_dir: empty");
  if (cache_sync != "durable" && cache_sync != "no_meta_sync" && cache_sync != "no_sync") {
    problems.push_back("cache_sync: \"" + cache_sync + "\" must be one of: durable, no_meta_sync, no_sync");
  }
  for (std::string& problem : batcher.Validate()) problems.push_back(std::move(problem));
  at_least("max_request_tokens", max_request_tokens, 2);
  at_least("threads", threads, 0);
  at_least("max_message_bytes", max_message_bytes, 1 << 20);
  if (max_message_bytes > (1LL << 31) - 1) {
    problems.push_back("max_message_bytes: " + std::to_string(max_message_bytes) + " exceeds gRPC's limit of " +
                       std::to_string((1LL << 31) - 1));
  }
  at_least("drain_timeout_ms", drain_timeout_ms, 0);
  at_least("debug_load_delay_ms", debug_load_delay_ms, 0);
#ifndef DPO_TEST_HOOKS
  for (const auto& [key, value] : {std::pair{"debug_load_delay_ms", debug_load_delay_ms},
                                   {"debug_forward_delay_ms", batcher.debug_forward_delay_ms}}) {
    if (value != 0) problems.push_back(std::string(key) + ": this build has no test hooks (DPO_WITH_TEST_HOOKS=OFF)");
  }
#endif
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    problems.push_back("tls_cert and tls_key: give both or neither (tls_cert=\"" + tls.cert_file +
                       "\", tls_key=\"" + tls.key_file + "\")");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    problems.push_back("tls_client_ca: mutual TLS needs tls_cert and tls_key too");
  }
  ScoreCacheOptions cache;  // the cache's own limits, under this file's key names
  cache.directory = cache_dir.empty() ? "unset" : cache_dir;
  cache.map_size_bytes = cache_map_size_bytes;
  for (std::string& problem : cache.Validate()) {
    if (problem.rfind("cache.", 0) == 0) problem[5] = '_';  // "cache.map_size_bytes" -> "cache_map_size_bytes"
    problems.push_back(std::move(problem));
  }
  return problems;
}

BatcherOptions ServerOptions::Batcher(int64_t pad_id) const {
  BatcherOptions options = batcher;
  options.pad_id = pad_id;
  return options;
}

ScoreCacheOptions ServerOptions::Cache() const {
  ScoreCacheOptions options;
  options.directory = cache_dir;
  options.map_size_bytes = cache_map_size_bytes;
  options.lru_entries = static_cast<std::size_t>(cache_lru_entries);
  options.sync_mode = ParseCacheSyncMode(cache_sync);
  return options;
}

}  // namespace dpo
