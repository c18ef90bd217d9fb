// gRPC client of dpo.v1.ReferenceModel with retries and prefetching.
#include "trainer/reference/remote/remote_reference_scorer.h"

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/sha256.h"
#include "dpo/v1/reference_service.grpc.pb.h"
#include "proto/wire/score_wire.h"

namespace dpo {
namespace {


bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::shared_ptr<grpc::Channel> MakeChannel(const RemoteReferenceOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);
  const bool tls = !options.tls_ca_file.empty() || !options.tls_cert_file.empty();
  if (!tls) return grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), arguments);
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) ssl.pem_root_certs = ReadFile(options.tls_ca_file);
  if (!options.tls_cert_file.empty()) ssl.pem_cert_chain = ReadFile(options.tls_cert_file);
  if (!options.tls_key_file.empty()) ssl.pem_private_key = ReadFile(options.tls_key_file);
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), arguments);
}

// A key for a collated batch: identical batches (same ids and mask) share prefetched results.
std::string BatchKey(const SequenceBatch& batch) {
  Sha256 hash;
  const auto ids = batch.input_ids.contiguous();
  const auto mask = batch.completion_mask.contiguous();
  for (const int64_t size : ids.sizes()) hash.Update(&size, sizeof(size));
  hash.Update(ids.data_ptr(), static_cast<size_t>(ids.numel()) * sizeof(int64_t));
  hash.Update(mask.data_ptr(), static_cast<size_t>(mask.numel()) * sizeof(bool));
  return DigestToHex(hash.Finish());
}

}  // namespace

struct RemoteReferenceScorer::Impl {
  RemoteReferenceOptions options;
  std::string token;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ReferenceModel::Stub> stub;
  std::string fingerprint;
  std::mutex mutex;  // guards `pending`
  std::deque<std::pair<std::string, std::shared_future<at::Tensor>>> pending;
  std::mt19937_64 jitter{std::random_device{}()};
  std::mutex jitter_mutex;

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options.call_timeout_seconds * 1000)));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  }

  // Runs `call` until it succeeds, fails with a non-retryable code, or the budget is spent.
  template <typename Call>
  grpc::Status WithRetries(const char* method, Call call) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(options.retry_budget_seconds);
    double backoff_seconds = 0.05;
    while (true) {
      grpc::ClientContext context;
      Prepare(context);
      const grpc::Status status = call(context);
      if (status.ok() || !Retryable(status.error_code())) return status;
      double sleep_seconds;
      {
        std::lock_guard<std::mutex> lock(jitter_mutex);
        sleep_seconds = std::uniform_real_distribution<double>(0.5, 1.0)(jitter) * backoff_seconds;
      }
      if (Clock::now() + std::chrono::duration<double>(sleep_seconds) >= deadline) {
        throw Error(ErrorKind::kReferenceUnavailable,
                    std::string("reference server ") + options.address + ": " + method + " failed for " +
                        std::to_string(options.retry_budget_seconds) +
                        " s (reference.retry_budget_seconds); last error: " + status.error_message());
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(sleep_seconds));
      backoff_seconds = std::min(5.0, backoff_seconds * 2);
    }
  }

  at::Tensor ScoreNow(const SequenceBatch& batch) {
    const v1::ScoreRequest request = BuildScoreRequest(batch, fingerprint, /*return_token_log_probs=*/false);
    v1::ScoreResponse response;
    const grpc::Status status =
        WithRetries("Score", [&](grpc::ClientContext& context) { return stub->Score(&context, request, &response); });
    if (!status.ok()) {
      throw Error(ErrorKind::kReferenceUnavailable, "reference server " + options.address + ": Score failed (" +
                                                        std::to_string(status.error_code()) + "): " +
                                                        status.error_message());
    }
    return ScoresFromResponse(request, response).sum_log_probs;
  }
};

RemoteReferenceScorer::RemoteReferenceScorer(const RemoteReferenceOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.options = options;
  if (!options.auth_token_file.empty()) impl.token = Trimmed(ReadFile(options.auth_token_file));
  impl.channel = MakeChannel(options);
  impl.stub = v1::ReferenceModel::NewStub(impl.channel);
  v1::ModelInfo info;
  const grpc::Status status = impl.WithRetries("GetModelInfo", [&](grpc::ClientContext& context) {
    return impl.stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  });
  if (!status.ok()) {
    throw Error(ErrorKind::kReferenceUnavailable, "reference server " + options.address + ": GetModelInfo failed (" +
                                                      std::to_string(status.error_code()) + "): " +
                                                      status.error_message());
  }
  // Another model or too short a window is a setting to correct, not an outage to wait out: exit 2.
  if (!options.expected_fingerprint.empty() && info.fingerprint() != options.expected_fingerprint) {
    throw InvalidInput("reference server " + options.address + " serves a model with fingerprint " + info.fingerprint() +
                       ", but reference.fingerprint=" + options.expected_fingerprint);
  }
  if (options.required_sequence_tokens > info.max_sequence_length()) {
    throw InvalidInput("reference server " + options.address + " accepts sequences of at most " +
                       std::to_string(info.max_sequence_length()) + " tokens, but data.max_length=" +
                       std::to_string(options.required_sequence_tokens));
  }
  impl.fingerprint = info.fingerprint();
}

RemoteReferenceScorer::~RemoteReferenceScorer() {
  // Wait for background requests: they use the stub.
  for (auto& entry : impl_->pending) entry.second.wait();
}

void RemoteReferenceScorer::Prefetch(const SequenceBatch& batch) {
  std::string key = BatchKey(batch);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (const auto& entry : impl_->pending) {
    if (entry.first == key) return;
  }
  if (static_cast<int>(impl_->pending.size()) >= impl_->options.prefetch_window) return;
  Impl* impl = impl_.get();
  SequenceBatch copy = batch;
  impl_->pending.emplace_back(std::move(key), std::async(std::launch::async, [impl, copy] {
                                                return impl->ScoreNow(copy);
                                              }).share());
}

at::Tensor RemoteReferenceScorer::Score(const SequenceBatch& batch) {
  const std::string key = BatchKey(batch);
  std::shared_future<at::Tensor> prefetched;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (auto it = impl_->pending.begin(); it != impl_->pending.end(); ++it) {
      if (it->first == key) {
        prefetched = it->second;
        impl_->pending.erase(it);
        break;
      }
    }
  }
  if (prefetched.valid()) return prefetched.get();  // rethrows the background call's error
  return impl_->ScoreNow(batch);
}

std::string RemoteReferenceScorer::Fingerprint() const { return impl_->fingerprint; }

}  // namespace dpo
