// The training metrics as prometheus-cpp families.
#include "trainer/metrics/prometheus_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <torch/version.h>

#include <chrono>

#include "core/common/error.h"
#include "core/metrics/metrics_http_server.h"

namespace dpo {
namespace {

using prometheus::Labels;

// Seconds, from 1 ms to ~2 min.
prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100};
}

}  // namespace

struct PrometheusExporter::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsHttpServer> server;
  Labels rank;
  double beta = 1;

  prometheus::Gauge& Gauge(const std::string& name, const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add(rank);
  }
  prometheus::Counter& Counter(const std::string& name, const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add(rank);
  }
  prometheus::Histogram& Histogram(const std::string& name, const std::string& help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry).Add(rank, DurationBuckets());
  }

  prometheus::Gauge* loss = nullptr;
  prometheus::Gauge* reward_chosen = nullptr;
  prometheus::Gauge* reward_rejected = nullptr;
  prometheus::Gauge* reward_margin = nullptr;
  prometheus::Gauge* reward_accuracy = nullptr;
  prometheus::Gauge* logp_chosen = nullptr;
  prometheus::Gauge* logp_rejected = nullptr;
  prometheus::Gauge* log_ratio_chosen = nullptr;
  prometheus::Gauge* log_ratio_rejected = nullptr;
  prometheus::Gauge* grad_norm = nullptr;
  prometheus::Gauge* learning_rate = nullptr;
  prometheus::Gauge* checkpoint_time = nullptr;
  prometheus::Counter* steps = nullptr;
  prometheus::Counter* tokens = nullptr;
  prometheus::Counter* pairs = nullptr;
  prometheus::Family<prometheus::Counter>* dropped = nullptr;
  prometheus::Family<prometheus::Counter>* skipped = nullptr;
  prometheus::Histogram* step_duration = nullptr;
  prometheus::Histogram* reference_wait = nullptr;
  prometheus::Histogram* allreduce_duration = nullptr;
};

PrometheusExporter::PrometheusExporter(const std::string& listen_address, int rank, double beta,
                                       const std::string& device)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.rank = {{"rank", std::to_string(rank)}};
  m.beta = beta;
  m.loss = &m.Gauge("dpo_train_loss", "Loss of the last step (mean over the global batch)");
  m.reward_chosen = &m.Gauge("dpo_train_reward_chosen", "Mean implicit reward beta * log(pi/pi_ref) of the chosen responses");
  m.reward_rejected = &m.Gauge("dpo_train_reward_rejected", "Mean implicit reward of the rejected responses");
  m.reward_margin = &m.Gauge("dpo_train_reward_margin", "Mean reward margin, chosen minus rejected");
  m.reward_accuracy = &m.Gauge("dpo_train_reward_accuracy_ratio", "Share of pairs whose chosen reward exceeds the rejected one");
  m.logp_chosen = &m.Gauge("dpo_train_logp_chosen", "Mean policy log-probability of the chosen responses (nats)");
  m.logp_rejected = &m.Gauge("dpo_train_logp_rejected", "Mean policy log-probability of the rejected responses (nats)");
  m.log_ratio_chosen = &m.Gauge("dpo_train_log_ratio_chosen", "KL proxy: mean log pi - log pi_ref of the chosen responses (nats)");
  m.log_ratio_rejected = &m.Gauge("dpo_train_log_ratio_rejected", "KL proxy: mean log pi - log pi_ref of the rejected responses (nats)");
  m.grad_norm = &m.Gauge("dpo_train_grad_norm", "Gradient norm before clipping");
  m.learning_rate = &m.Gauge("dpo_train_learning_rate", "Learning rate of the last step");
  m.checkpoint_time = &m.Gauge("dpo_checkpoint_last_success_timestamp_seconds", "Unix time of the last complete checkpoint");
  m.steps = &m.Counter("dpo_train_steps_total", "Optimizer steps taken by this process");
  m.tokens = &m.Counter("dpo_train_tokens_total", "Non-padding tokens trained on (all ranks)");
  m.pairs = &m.Counter("dpo_train_pairs_total", "Preference pairs trained on (all ranks)");
  m.dropped = &prometheus::BuildCounter().Name("dpo_train_pairs_dropped_total").Help("Training rows skipped or dropped at load, by reason").Register(*m.registry);
  m.skipped = &prometheus::BuildCounter().Name("dpo_train_skipped_steps_total").Help("Updates skipped for a non-finite loss or gradient, by reason").Register(*m.registry);
  m.step_duration = &m.Histogram("dpo_train_step_duration_seconds", "Wall time of one optimizer step on this rank");
  m.reference_wait = &m.Histogram("dpo_train_reference_wait_seconds", "Time a step waited for reference log-probs");
  m.allreduce_duration = &m.Histogram("dpo_train_allreduce_duration_seconds", "Time a step waited for the gradient all-reduce");
  Labels build = m.rank;
  build.insert({{"version", DPO_VERSION}, {"torch_version", TORCH_VERSION}, {"device", device}});
  prometheus::BuildGauge().Name("dpo_build_info").Help("Build and runtime information; value 1").Register(*m.registry).Add(build).Set(1);
  m.server = std::make_unique<MetricsHttpServer>(listen_address, std::vector<std::shared_ptr<prometheus::Collectable>>{m.registry});
}

PrometheusExporter::~PrometheusExporter() = default;

int PrometheusExporter::port() const { return impl_->server->port(); }

void PrometheusExporter::OnDataLoaded(const std::map<std::string, int64_t>& dropped_by_reason) {
  for (const auto& [reason, count] : dropped_by_reason) {
    Labels labels = impl_->rank;
    labels.insert({"reason", reason});
    impl_->dropped->Add(labels).Increment(static_cast<double>(count));
  }
}

void PrometheusExporter::OnStep(const StepReport& report) {
  Impl& m = *impl_;
  const auto mean = [&](const char* key) { return report.means.at(key); };
  m.loss->Set(report.loss);
  m.reward_chosen->Set(mean("rewards/chosen"));
  m.reward_rejected->Set(mean("rewards/rejected"));
  m.reward_margin->Set(mean("rewards/margins"));
  m.reward_accuracy->Set(mean("rewards/accuracies"));
  m.logp_chosen->Set(mean("logps/chosen"));
  m.logp_rejected->Set(mean("logps/rejected"));
  m.log_ratio_chosen->Set(mean("rewards/chosen") / m.beta);
  m.log_ratio_rejected->Set(mean("rewards/rejected") / m.beta);
  m.grad_norm->Set(report.grad_norm);
  m.learning_rate->Set(report.learning_rate);
  m.steps->Increment();
  m.tokens->Increment(static_cast<double>(report.tokens));
  m.pairs->Increment(static_cast<double>(report.pairs));
  if (report.skipped) {
    Labels labels = m.rank;
    labels.insert({"reason", report.skip_reason});
    m.skipped->Add(labels).Increment();
  }
  m.step_duration->Observe(report.step_seconds);
  m.reference_wait->Observe(report.reference_wait_seconds);
  m.allreduce_duration->Observe(report.allreduce_seconds);
}

void PrometheusExporter::OnCheckpoint(int64_t) {
  impl_->checkpoint_time->Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string RankMetricsAddress(const std::string& prometheus_listen, int local_rank) {
  const auto colon = prometheus_listen.rfind(':');
  const int port = std::stoi(prometheus_listen.substr(colon + 1));
  if (port == 0) return "";
  return prometheus_listen.substr(0, colon) + ":" + std::to_string(port + local_rank);
}

}  // namespace dpo
