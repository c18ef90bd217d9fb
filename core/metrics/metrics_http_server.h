// MetricsHttpServer: serves prometheus-cpp collectables (registries, or collectors that read
// their values at scrape time) in the text exposition format at GET /metrics over plain
// HTTP/1.0, from one thread of its own.
//
// Why not prometheus-cpp's Exposer: its HTTP server (civetweb) creates worker threads with a
// small fixed stack, and in a process that loads LibTorch (whose dependencies bring ~100 KB of
// static thread-local storage: OpenBLAS, glog, torch) pthread_create then fails with "Cannot
// create first worker thread". A std::thread gets the default stack.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Collectable;
}

namespace dpo {

class MetricsHttpServer {
 public:
  // Binds `listen_address` ("HOST:PORT", "[IPv6]:PORT"; port 0 picks a free one) and starts
  // serving. Throws Error(kInvalidInput) naming the address and the system error.
  MetricsHttpServer(const std::string& listen_address, std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  // Stops accepting, finishes the request in progress and joins the thread.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  void Serve();
  void Answer(int connection);

  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  int listener_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by the destructor to end Serve()
  int port_ = 0;
  std::thread thread_;
};

}  // namespace dpo
