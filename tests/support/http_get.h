// A minimal HTTP/1.0 GET for tests that read /metrics endpoints and Prometheus's API.
#pragma once

#include <string>

namespace dpo::testing {

struct HttpResponse {
  int status = 0;    // 0 when the connection failed
  std::string body;  // after the headers
};

// GET http://<host>:<port><path> (IPv4 host), 10 s timeout.
HttpResponse HttpGet(const std::string& host, int port, const std::string& path);

// "%XX"-escapes everything but unreserved characters (for query strings).
std::string UrlEncode(const std::string& text);

}  // namespace dpo::testing
