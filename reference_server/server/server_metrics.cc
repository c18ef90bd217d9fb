// Prometheus families of the reference server, an RPC-timing interceptor, and scrape-time
// counters read from the server's stats.
#include "reference_server/server/server_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>

#include "core/common/clock.h"
#include "core/metrics/metrics_http_server.h"

namespace dpo {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}
prometheus::Histogram::BucketBoundaries PowersOfTwo(double largest) {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double bound = 1; bound <= largest; bound *= 2) buckets.push_back(bound);
  return buckets;
}

// Families whose values are the server's own counters, read at scrape time.
class StatsCollectable final : public prometheus::Collectable {
 public:
  explicit StatsCollectable(std::function<v1::ServerStats()> stats) : stats_(std::move(stats)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const v1::ServerStats stats = stats_();
    return {
        Family("dpo_reference_queue_depth", "Score requests waiting for a batch", prometheus::MetricType::Gauge,
               static_cast<double>(stats.queued_requests())),
        Family("dpo_reference_cache_hits_total", "Sequences answered from the cache", prometheus::MetricType::Counter,
               static_cast<double>(stats.cache().hits())),
        Family("dpo_reference_cache_misses_total", "Sequences not in the cache (computed)", prometheus::MetricType::Counter,
               static_cast<double>(stats.cache().misses())),
        Family("dpo_reference_cache_corrupt_total", "Cache records that failed verification and were recomputed",
               prometheus::MetricType::Counter, static_cast<double>(stats.cache().corrupt())),
        Family("dpo_reference_cache_entries", "Records in the persistent cache", prometheus::MetricType::Gauge,
               static_cast<double>(stats.cache().entries())),
        Family("dpo_reference_auth_failures_total", "Calls refused with UNAUTHENTICATED or PERMISSION_DENIED",
               prometheus::MetricType::Counter, static_cast<double>(stats.auth_failures())),
    };
  }

 private:
  static prometheus::MetricFamily Family(const std::string& name, const std::string& help, prometheus::MetricType type,
                                         double value) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) metric.counter.value = value;
    else metric.gauge.value = value;
    return {name, help, type, {metric}};
  }

  std::function<v1::ServerStats()> stats_;
};

// Times one RPC from its creation to its final status.
class TimingInterceptor final : public grpc::experimental::Interceptor {
 public:
  TimingInterceptor(ServerMetrics& metrics, std::string method) : metrics_(metrics), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds = SecondsSince(started_);
      metrics_.OnRequest(method_, StatusCodeName(methods->GetSendStatus().error_code()), seconds);
    }
    methods->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  std::string method_;
  Clock::time_point started_ = Clock::now();
};

class TimingInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TimingInterceptorFactory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    const std::string full = info->method();  // "/package.Service/Method"
    return new TimingInterceptor(metrics_, full.substr(full.rfind('/') + 1));
  }

 private:
  ServerMetrics& metrics_;
};

}  // namespace

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {"OK",        "CANCELLED",          "UNKNOWN",       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS", "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                       "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < 17 ? kNames[code] : "CODE_" + std::to_string(code);
}

struct ServerMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;
  prometheus::Histogram* batch_sequences = nullptr;
  prometheus::Histogram* batch_tokens = nullptr;
  std::unique_ptr<MetricsHttpServer> server;
};

ServerMetrics::ServerMetrics(const std::string& listen_address, std::function<v1::ServerStats()> stats)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.requests = &prometheus::BuildCounter().Name("dpo_reference_requests_total").Help("RPCs by method and final status code").Register(*m.registry);
  m.durations = &prometheus::BuildHistogram().Name("dpo_reference_request_duration_seconds").Help("RPC time from receipt to final status").Register(*m.registry);
  m.batch_sequences = &prometheus::BuildHistogram().Name("dpo_reference_batch_sequences").Help("Sequences per forward of the dynamic batcher").Register(*m.registry).Add({}, PowersOfTwo(4096));
  m.batch_tokens = &prometheus::BuildHistogram().Name("dpo_reference_batch_tokens").Help("Padded tokens per forward of the dynamic batcher").Register(*m.registry).Add({}, PowersOfTwo(1 << 20));
  m.server = std::make_unique<MetricsHttpServer>(
      listen_address, std::vector<std::shared_ptr<prometheus::Collectable>>{m.registry, std::make_shared<StatsCollectable>(std::move(stats))});
  address_ = listen_address.substr(0, listen_address.rfind(':') + 1) + std::to_string(m.server->port());
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::OnRequest(const std::string& method, const std::string& code, double seconds) {
  impl_->requests->Add({{"method", method}, {"code", code}}).Increment();
  impl_->durations->Add({{"method", method}}, LatencyBuckets()).Observe(seconds);
}

void ServerMetrics::OnBatch(int64_t rows, int64_t padded_tokens) {
  impl_->batch_sequences->Observe(static_cast<double>(rows));
  impl_->batch_tokens->Observe(static_cast<double>(padded_tokens));
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> ServerMetrics::InterceptorFactories() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TimingInterceptorFactory>(*this));
  return factories;
}

}  // namespace dpo
