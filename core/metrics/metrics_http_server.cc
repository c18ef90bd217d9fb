// A one-thread HTTP/1.0 server for /metrics.
#include "core/metrics/metrics_http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/common/error.h"

namespace dpo {
namespace {

// Requests larger than this, or slower than the timeout, are answered with what was read.
constexpr size_t kMaxRequestBytes = 8192;
constexpr int kReadTimeoutMs = 2000;

void WriteAll(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::send(fd, data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n <= 0) return;  // the client went away
    written += static_cast<size_t>(n);
  }
}

std::string Response(const std::string& status, const std::string& content_type, const std::string& body) {
  return "HTTP/1.0 " + status + "\r\nContent-Type: " + content_type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(const std::string& listen_address,
                                     std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
    : collectables_(std::move(collectables)) {
  const auto colon = listen_address.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen_address.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : listen_address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (port.empty() || ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0) {
    throw InvalidInput("metrics endpoint " + listen_address + ": expected HOST:PORT with a resolvable host");
  }
  std::string failure;
  for (addrinfo* candidate = found; candidate != nullptr && listener_ < 0; candidate = candidate->ai_next) {
    const int fd = ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, candidate->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && ::listen(fd, 16) == 0) {
      listener_ = fd;
    } else {
      failure = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (listener_ < 0) throw InvalidInput("metrics endpoint " + listen_address + ": cannot listen: " + failure);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  char service[16] = {0};
  ::getnameinfo(reinterpret_cast<sockaddr*>(&bound), length, nullptr, 0, service, sizeof(service), NI_NUMERICSERV);
  port_ = std::atoi(service);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    ::close(listener_);
    throw Error(ErrorKind::kInternal, std::string("metrics endpoint: pipe2 failed: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Serve(); });
}

MetricsHttpServer::~MetricsHttpServer() {
  (void)!::write(wake_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

void MetricsHttpServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Answer(connection);
    ::close(connection);
  }
}

void MetricsHttpServer::Answer(int connection) {
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    pollfd fd = {connection, POLLIN, 0};
    if (::poll(&fd, 1, kReadTimeoutMs) <= 0) break;
    const ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  std::istringstream line(request.substr(0, request.find("\r\n")));
  std::string method, target;
  line >> method >> target;
  if (method != "GET") {
    WriteAll(connection, Response("405 Method Not Allowed", "text/plain", "only GET\n"));
  } else if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) {
    WriteAll(connection, Response("404 Not Found", "text/plain", "see /metrics\n"));
  } else {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : collectables_) {
      auto collected = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(collected.begin()), std::make_move_iterator(collected.end()));
    }
    const std::string body = prometheus::TextSerializer().Serialize(families);
    WriteAll(connection, Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body));
  }
}

}  // namespace dpo
