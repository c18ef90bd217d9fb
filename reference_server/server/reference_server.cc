// Server assembly: ports, credentials, channel limits, health states and the drain sequence.
#include "reference_server/server/reference_server.h"

#include <ATen/Parallel.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "reference_server/engine/reference_model.h"
#include "reference_server/engine/score_engine.h"
#include "reference_server/server/access_control.h"
#include "reference_server/server/reference_service.h"
#if DPO_WITH_PROMETHEUS
#include "reference_server/server/server_metrics.h"
#endif

namespace dpo {
namespace {

std::string BoundAddress(const std::string& requested, int port) {
  std::string host;
  int ignored = 0;
  SplitHostPort(requested, &host, &ignored);
  return host + ":" + std::to_string(port);
}

// Drops every builder plugin -- reflection registers itself for all servers when
// grpc++_reflection is linked -- so that the probe port serves the health service alone.
class NoPluginsOption final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*arguments*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override { plugins->clear(); }
};

std::string DtypeName(const at::Tensor& weight) {
  switch (weight.scalar_type()) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    default: return c10::toString(weight.scalar_type());
  }
}

}  // namespace

const char* ServerVersion() { return DPO_VERSION; }

ReferenceServer::ReferenceServer(ServerOptions options) : options_(std::move(options)) {
  const std::vector<std::string> problems = options_.Validate();
  ThrowIfProblems("server options: " + std::to_string(problems.size()) + " problem(s):", problems);
  if (!options_.auth_token_file.empty()) auth_ = BearerTokenAuth::FromFile(options_.auth_token_file);
  credentials_ = MakeServerCredentials(options_.tls);
  service_ = std::make_unique<ReferenceModelService>(auth_.get(), ServerVersion());
}

ReferenceServer::~ReferenceServer() {
  try {
    Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "dpo-reference-server: shutdown: " << e.what() << "\n";
  }
}

void ReferenceServer::Start() {
  if (!options_.metrics_listen.empty()) {
#if DPO_WITH_PROMETHEUS
    metrics_ = std::make_unique<ServerMetrics>(options_.metrics_listen, [this] { return service_->Stats(); });
#else
    throw InvalidInput("metrics_listen: this dpo-reference-server was built without prometheus-cpp (DPO_WITH_PROMETHEUS=OFF)");
#endif
  }
  // Every server built from here on gets its own default health service (no health.proto needed).
  grpc::EnableDefaultHealthCheckService(true);
  if (!options_.health_listen.empty()) {
    grpc::ServerBuilder builder;
    builder.SetOption(std::make_unique<NoPluginsOption>());
    // A server needs one callback service to poll its queues (the default health service does
    // not count); the generic one answers every other method UNIMPLEMENTED, as gRPC would.
    health_only_ = std::make_unique<grpc::CallbackGenericService>();
    builder.RegisterCallbackGenericService(health_only_.get());
    int port = 0;
    builder.AddListeningPort(options_.health_listen, grpc::InsecureServerCredentials(), &port);
    health_server_ = builder.BuildAndStart();
    if (!health_server_ || port == 0) {
      throw InvalidInput("health_listen: cannot listen on " + options_.health_listen + " (address in use or invalid)");
    }
    health_address_ = BoundAddress(options_.health_listen, port);
  }
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();  // idempotent
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, credentials_, &port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kServerKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kServerKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kMinClientPingIntervalMs);
#if DPO_WITH_PROMETHEUS
  if (metrics_) builder.experimental().SetInterceptorCreators(metrics_->InterceptorFactories());
#endif
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    throw InvalidInput("listen: cannot listen on " + options_.listen +
                       (options_.tls.enabled() ? " (address in use or invalid, or the TLS certificate/key rejected)"
                                               : " (address in use or invalid)"));
  }
  listen_address_ = BoundAddress(options_.listen, port);
  SetHealth(false);
}

void ReferenceServer::SetHealth(bool serving) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr || server->GetHealthCheckService() == nullptr) continue;
    server->GetHealthCheckService()->SetServingStatus("", serving);
    server->GetHealthCheckService()->SetServingStatus(kReferenceServiceName, serving);
  }
}

void ReferenceServer::LoadModel() {
  if (options_.debug_load_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.debug_load_delay_ms));
  }
  if (options_.threads > 0) at::set_num_threads(static_cast<int>(options_.threads));
  model_ = std::make_unique<LoadedReferenceModel>(LoadReferenceModel(options_.model_dir, options_.tokenizer));
  cache_ = std::make_unique<ScoreCache>(options_.Cache());
  ScoreLimits limits;
  limits.max_request_tokens = options_.max_request_tokens;
  BatcherOptions batcher = options_.Batcher(model_->tokenizer->PadId());
#if DPO_WITH_PROMETHEUS
  if (metrics_) {
    batcher.on_batch = [metrics = metrics_.get()](int64_t rows, int64_t tokens) { metrics->OnBatch(rows, tokens); };
  }
#endif
  engine_ = std::make_unique<ScoreEngine>(*model_, cache_.get(), batcher, limits);

  v1::ModelInfo info;
  info.set_fingerprint(model_->fingerprint);
  info.set_model_type(model_->model->config().model_type);
  info.set_vocab_size(engine_->limits().vocab_size);
  info.set_max_sequence_length(engine_->limits().max_sequence_length);
  info.set_dtype(DtypeName(model_->model->OutputEmbedding()));
  info.set_tokenizer(model_->tokenizer->Name());
  info.set_max_request_tokens(engine_->limits().max_request_tokens);
  service_->SetServing(engine_.get(), info);
  SetHealth(true);
}

const std::string& ReferenceServer::metrics_address() const {
  static const std::string kNone;
#if DPO_WITH_PROMETHEUS
  if (metrics_) return metrics_->address();
#endif
  return kNone;
}

const std::string& ReferenceServer::fingerprint() const {
  if (!model_) throw Error(ErrorKind::kInternal, "reference server: fingerprint() before LoadModel()");
  return model_->fingerprint;
}

void ReferenceServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  SetHealth(false);
  service_->SetDraining();
  if (server_) {
    // Every accepted Score call completes (the batcher keeps running); only then does the port
    // close, with a short grace for responses still being written. Waiting on the port alone
    // would also wait for open health Watch streams, which end only at the deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
    if (!service_->WaitForInFlight(deadline)) {
      std::cerr << "dpo-reference-server: drain_timeout_ms=" << options_.drain_timeout_ms
                << " passed with Score calls still in flight; cancelling them\n";
    }
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  if (engine_) engine_->Shutdown();
  if (cache_) cache_->Sync();
  if (health_server_) {
    health_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));  // ends Watch streams
    health_server_->Wait();
  }
}

}  // namespace dpo
