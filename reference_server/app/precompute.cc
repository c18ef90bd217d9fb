// Precompute: data set -> collated pair batches -> wire requests -> the engine, a window at a time.
#include "reference_server/app/precompute.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <deque>
#include <future>
#include <iomanip>
#include <memory>
#include <ostream>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/data/batch.h"
#include "core/data/preference_reader.h"
#include "core/tokenizer/tokenizer_files.h"
#include "job/job_config.h"
#include "job/job_tokenizer.h"
#include "proto/wire/score_wire.h"
#include "reference_server/engine/reference_model.h"
#include "reference_server/engine/score_engine.h"

namespace dpo {
namespace {

struct InFlight {
  v1::ScoreRequest request;
  v1::ScoreResponse response;
  std::promise<EngineStatus> done;
};

class Precomputer {
 public:
  Precomputer(ScoreEngine& engine, const std::string& fingerprint, TokenId pad_id, int64_t window, std::ostream& progress)
      : engine_(engine), fingerprint_(fingerprint), pad_id_(pad_id), window_(window), progress_(progress) {}
  // Requests still in flight (after a failure) reference window_flights_: wait for them first.
  ~Precomputer() {
    for (std::future<EngineStatus>& done : window_futures_) done.wait();
  }
  Precomputer(const Precomputer&) = delete;
  Precomputer& operator=(const Precomputer&) = delete;

  void Run(const std::string& name, const PreferenceDataset& dataset, int64_t batch_size, PrecomputeReport& report) {
    const auto pairs = static_cast<int64_t>(dataset.pairs.size());
    for (int64_t start = 0; start < pairs; start += batch_size) {
      std::vector<const TokenizedPair*> batch;
      for (int64_t i = start; i < std::min(pairs, start + batch_size); ++i) {
        batch.push_back(&dataset.pairs[static_cast<std::size_t>(i)]);
      }
      auto flight = std::make_unique<InFlight>();
      flight->request = BuildScoreRequest(CollatePairs(batch, pad_id_), fingerprint_);  // (2B, T) -> 2B sequences
      std::future<EngineStatus> done = flight->done.get_future();
      InFlight* raw = flight.get();
      engine_.Score(raw->request, &raw->response, [raw](const EngineStatus& status) { raw->done.set_value(status); });
      window_futures_.push_back(std::move(done));
      window_flights_.push_back(std::move(flight));
      if (static_cast<int64_t>(window_flights_.size()) >= window_) Collect(name, pairs, report);
    }
    while (!window_flights_.empty()) Collect(name, pairs, report);
    progress_ << "\n";
    pairs_done_ = 0;
  }

 private:
  void Collect(const std::string& name, int64_t pairs, PrecomputeReport& report) {
    const EngineStatus status = window_futures_.front().get();
    const InFlight& flight = *window_flights_.front();
    if (!status.ok()) {
      throw Error(ErrorKind::kInternal, "precompute: scoring a batch of " + std::to_string(flight.request.sequences_size()) +
                                            " sequences failed: " + status.message());
    }
    for (const v1::SequenceScore& score : flight.response.scores()) {
      ++report.sequences;
      ++(score.from_cache() ? report.from_cache : report.computed);
    }
    pairs_done_ += flight.request.sequences_size() / 2;  // (2B,) rows: chosen then rejected
    window_futures_.pop_front();
    window_flights_.pop_front();
    Progress(name, pairs_done_, pairs, report);
  }

  void Progress(const std::string& name, int64_t done, int64_t total, const PrecomputeReport& report) {
    const double seconds = SecondsSince(started_);
    progress_ << "\rprecompute " << name << ": " << done << "/" << total << " pairs, " << report.sequences
              << " sequences (" << report.computed << " computed, " << report.from_cache << " cached), " << std::fixed
              << std::setprecision(1) << (seconds > 0 ? static_cast<double>(report.sequences) / seconds : 0.0)
              << " seq/s" << std::flush;
  }

  ScoreEngine& engine_;
  const std::string& fingerprint_;
  TokenId pad_id_;
  int64_t window_;
  std::ostream& progress_;
  Clock::time_point started_ = Clock::now();
  int64_t pairs_done_ = 0;  // of the data set being scored
  std::deque<std::future<EngineStatus>> window_futures_;
  std::deque<std::unique_ptr<InFlight>> window_flights_;
};

}  // namespace

PrecomputeReport RunPrecompute(const PrecomputeOptions& options, std::ostream& progress) {
  const auto started = Clock::now();
  const ServerOptions& server = options.server;
  std::vector<std::string> problems = server.Validate();
  ThrowIfProblems("precompute options:", problems);
  const JobConfig job = JobConfig::Load(options.job_config, options.overrides);
  if (server.threads > 0) at::set_num_threads(static_cast<int>(server.threads));
  const LoadedReferenceModel model = LoadReferenceModel(server.model_dir, job.tokenizer);
  const std::shared_ptr<const Tokenizer> job_tokenizer = JobTokenizer(job);
  if (job_tokenizer->Name() != model.tokenizer->Name()) {
    throw InvalidInput(server.model_dir + " uses tokenizer \"" + model.tokenizer->Name() + "\" but the job " +
                       options.job_config + " tokenizes with \"" + job_tokenizer->Name() + "\"");
  }
  if (job.data.max_length > model.max_sequence_length()) {
    throw InvalidInput(options.job_config + ": data.max_length=" + std::to_string(job.data.max_length) + " exceeds " +
                       server.model_dir + " " + model.model->config().FieldName("max_positions") + "=" +
                       std::to_string(model.max_sequence_length()));
  }
  ScoreCache cache(server.Cache());
  ScoreLimits limits;
  limits.max_request_tokens = server.max_request_tokens;
  ScoreEngine engine(model, &cache, server.Batcher(model.tokenizer->PadId()), limits);
  // Enough requests in flight for the batcher to fill its batches, never more than it queues.
  Precomputer precomputer(engine, model.fingerprint, model.tokenizer->PadId(),
                          std::max<int64_t>(1, std::min<int64_t>(8, server.batcher.max_queued_requests)), progress);

  PrecomputeReport report;
  std::vector<std::pair<std::string, std::string>> sets = {{"data.train", job.data_train}};
  if (!job.data_eval.empty()) sets.emplace_back("data.eval", job.data_eval);
  for (const auto& [name, path] : sets) {
    const PreferenceDataset dataset = LoadPreferenceData(path, *model.tokenizer, job.data);
    report.pairs += static_cast<int64_t>(dataset.pairs.size());
    report.rows_dropped += static_cast<int64_t>(dataset.rejected.size());
    precomputer.Run(name, dataset, job.training.per_device_batch_size, report);
  }
  engine.Shutdown();
  cache.Sync();
  report.cache_entries = cache.Stats().entries;
  report.seconds = SecondsSince(started);
  return report;
}

}  // namespace dpo
