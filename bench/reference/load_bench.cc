// Benchmark 4: open-loop load on dpo-reference-server (default limits). Every request holds
// fresh random sequences, so every one is a cache miss that reaches the dynamic batcher. A short
// closed-loop probe measures capacity; then a sustained phase at a fraction of it, 5x that rate
// for a bounded time, and the sustained rate again, while the server's VmRSS is sampled.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/reference/bench_support.h"
#include "bench/reference/open_loop_client.h"

namespace dpo::bench {
namespace {

constexpr int kLength = 128, kPrompt = 32;
constexpr int kProbeCallers = 8;
constexpr double kCallTimeoutSeconds = 10;
constexpr auto kRssInterval = std::chrono::milliseconds(500);
// After the last call completes, the server is left idle this long while RSS is still sampled:
// whether it hands the burst's memory back.
constexpr auto kIdleTail = std::chrono::seconds(3);

struct RssSample {
  double t_s;        // seconds after the load's origin (negative: before it)
  int64_t kib;       // VmRSS
  int64_t anon_kib;  // RssAnon: heap (the rest is mostly the LMDB map and the binary)
};

struct PhaseSummary {
  int64_t sent = 0, ok = 0, shed = 0, other_errors = 0;
  double max_lag_s = 0;
  std::vector<double> ok_latencies_s;
};

PhaseSummary Summarize(const std::vector<CallRecord>& records, int phase) {
  PhaseSummary summary;
  for (const CallRecord& record : records) {
    if (record.phase != phase) continue;
    ++summary.sent;
    summary.max_lag_s = std::max(summary.max_lag_s, record.sent_s - record.scheduled_s);
    if (record.code == grpc::StatusCode::OK) {
      ++summary.ok;
      summary.ok_latencies_s.push_back(record.latency_s);
    } else if (record.code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++summary.shed;
    } else {
      ++summary.other_errors;
    }
  }
  return summary;
}

// The last sample taken before `t_s` (-1 when none).
int64_t RssAt(const std::vector<RssSample>& samples, double t_s) {
  int64_t kib = -1;
  for (const RssSample& sample : samples) {
    if (sample.t_s < t_s) kib = sample.kib;
  }
  return kib;
}

double Mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

int64_t MaxRss(const std::vector<RssSample>& samples, double from_s, double to_s) {
  int64_t max = -1;
  for (const RssSample& sample : samples) {
    if (sample.t_s >= from_s && sample.t_s < to_s) max = std::max(max, sample.kib);
  }
  return max;
}

// One line per call (kind "call": phase, scheduled, sent, latency in s, status code) and per RSS
// sample (kind "rss": time in s, VmRSS in KiB), for plotting.
void WriteRecords(const std::string& path, const std::vector<CallRecord>& records, const std::vector<RssSample>& rss) {
  std::ofstream out(path);
  out << "kind,phase,scheduled_s,sent_s,latency_s,code_or_rss_kib,rss_anon_kib\n";
  for (const CallRecord& r : records) {
    out << "call," << r.phase << ',' << r.scheduled_s << ',' << r.sent_s << ',' << r.latency_s << ','
        << static_cast<int>(r.code) << '\n';
  }
  for (const RssSample& sample : rss) {
    out << "rss,," << sample.t_s << ",,," << sample.kib << ',' << sample.anon_kib << '\n';
  }
}

}  // namespace

int RunLoadBench(const BenchOptions& options) {
  const std::string model_dir = options.work_dir + "/model-load";
  WriteBenchModel(model_dir, 3);
  auto server = StartServer(model_dir, options.work_dir + "/cache-load", options.work_dir + "/server-load.log");
  const pid_t server_pid = server->process().pid();
  const int64_t rss_at_start_kib = ReadProcStatusKib(server_pid, "VmRSS");  // serving, nothing scored yet
  const auto channel = testing::PlainChannel(server->address());
  auto stub = v1::ReferenceModel::NewStub(channel);
  const std::string fingerprint = FetchFingerprint(channel);
  std::atomic<uint64_t> seed{1};
  const auto make_request = [&](int64_t /*call*/) {
    std::mt19937_64 random(seed++);  // a fresh seed per request: every sequence is a miss
    return RandomRequest(fingerprint, options.load_sequences, kLength, kPrompt, random);
  };

  const LatencySummary probe = RunClosedLoop(kProbeCallers, 1'000'000, 4.0 * options.seconds_scale, [&](int, int64_t) {
    v1::ScoreResponse response;
    return CallScoreWithDeadline(*stub, make_request(0), &response, kCallTimeoutSeconds);
  });
  const double capacity = probe.CallsPerSecond();
  const double rate = options.load_rate > 0 ? options.load_rate : options.load_fraction * capacity;
  const std::vector<LoadPhase> phases = {
      {"sustained", rate, options.load_seconds * options.seconds_scale},
      {"overload 5x", 5 * rate, options.overload_seconds * options.seconds_scale},
      {"recovery", rate, options.recovery_seconds * options.seconds_scale},
  };

  v1::ServerStats before;
  testing::CallStats(channel, &before);
  const auto origin = Clock::now() + std::chrono::milliseconds(600);
  std::vector<RssSample> rss;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    for (auto next = Clock::now(); sampling.load(); next += kRssInterval) {
      rss.push_back({Seconds(Clock::now() - origin), ReadProcStatusKib(server_pid, "VmRSS"),
                     ReadProcStatusKib(server_pid, "RssAnon")});
      std::this_thread::sleep_until(next + kRssInterval);
    }
  });
  const std::vector<CallRecord> records = RunOpenLoop(*stub, phases, make_request, kCallTimeoutSeconds, origin);
  const double drained_s = Seconds(Clock::now() - origin);
  std::this_thread::sleep_for(kIdleTail);  // samples of the idle server after the drain
  sampling = false;
  sampler.join();
  v1::ServerStats after;
  testing::CallStats(channel, &after);

  std::printf("== open-loop load (cache misses: %d random sequences x %d tokens per request) ==\n",
              options.load_sequences, kLength);
  std::printf("capacity probe: %d closed-loop callers, %.1f s: %.1f requests/s (%.0f sequences/s), p50 %.1f ms\n",
              kProbeCallers, probe.seconds, capacity, capacity * options.load_sequences, probe.P50Ms());
  std::printf("%-12s %8s %7s %8s %8s %6s %6s %9s %9s %9s %9s %10s\n", "phase", "offered", "sent", "achieved", "ratio",
              "ok", "shed", "errors", "p50 ms", "p99 ms", "lag ms", "max RSS MiB");
  double phase_start = 0;
  for (size_t phase = 0; phase < phases.size(); ++phase) {
    const PhaseSummary s = Summarize(records, static_cast<int>(phase));
    const double seconds = phases[phase].seconds;
    const double offered = static_cast<double>(s.sent) / seconds;
    const double achieved = static_cast<double>(s.ok) / seconds;
    // The last phase's memory window runs until every call has completed.
    const double phase_end = phase + 1 == phases.size() ? drained_s : phase_start + seconds;
    std::printf("%-12s %8.1f %7lld %8.1f %7.1f%% %6lld %6lld %9lld %9.1f %9.1f %9.2f %10.1f\n",
                phases[phase].name.c_str(), offered, static_cast<long long>(s.sent), achieved,
                100.0 * achieved / offered, static_cast<long long>(s.ok), static_cast<long long>(s.shed),
                static_cast<long long>(s.other_errors), 1e3 * Percentile(s.ok_latencies_s, 0.5),
                1e3 * Percentile(s.ok_latencies_s, 0.99), 1e3 * s.max_lag_s,
                static_cast<double>(MaxRss(rss, phase_start, phase_end)) / 1024.0);
    phase_start += seconds;
  }

  // Recovery: 1-second windows (by send time) after the overload; the first with every call OK,
  // and the first whose median latency is back under the sustained phase's p99.
  const double recovery_start = phases[0].seconds + phases[1].seconds;
  const double sustained_p99_s = Percentile(Summarize(records, 0).ok_latencies_s, 0.99);
  std::printf("after the overload, per 1-s window (ok/sent, p50 ms):");
  double recovered_after_s = -1, latency_normal_after_s = -1;
  for (int window = 0; window < static_cast<int>(phases[2].seconds); ++window) {
    int64_t sent = 0, ok = 0;
    std::vector<double> latencies;
    for (const CallRecord& record : records) {
      const double t = record.scheduled_s - recovery_start;
      if (record.phase != 2 || t < window || t >= window + 1) continue;
      ++sent;
      if (record.code == grpc::StatusCode::OK) {
        ++ok;
        latencies.push_back(record.latency_s);
      }
    }
    std::printf(" %lld/%lld %.0f%s", static_cast<long long>(ok), static_cast<long long>(sent),
                1e3 * Percentile(latencies, 0.5), window + 1 < static_cast<int>(phases[2].seconds) ? "," : "\n");
    if (recovered_after_s < 0 && sent > 0 && ok == sent) recovered_after_s = window;
    if (latency_normal_after_s < 0 && sent > 0 && ok == sent && Percentile(latencies, 0.5) <= sustained_p99_s) {
      latency_normal_after_s = window;
    }
  }
  if (recovered_after_s >= 0) {
    std::printf("recovered: the first fully successful 1-s window is [%.0f, %.0f) s after the overload ended\n",
                recovered_after_s, recovered_after_s + 1);
  } else {
    std::printf("recovered: no fully successful 1-s window within %.0f s\n", phases[2].seconds);
  }
  if (latency_normal_after_s >= 0) {
    std::printf("latency: the first window with p50 <= the sustained p99 (%.1f ms) is [%.0f, %.0f) s after it\n",
                1e3 * sustained_p99_s, latency_normal_after_s, latency_normal_after_s + 1);
  } else {
    std::printf("latency: p50 not back under the sustained p99 (%.1f ms) within %.0f s\n", 1e3 * sustained_p99_s,
                phases[2].seconds);
  }
  const double overload_end_s = phases[0].seconds + phases[1].seconds;
  const double idle_s = static_cast<double>(kIdleTail.count());
  std::printf("server VmRSS, MiB: %.1f at start, %.1f before the load (after the probe), %.1f peak, %.1f at the end "
              "of the overload, %.1f when the last call completed, %.1f after %.0f s idle (%zu samples every "
              "%lld ms)\n",
              Mib(rss_at_start_kib), Mib(MaxRss(rss, -1e9, 0)), Mib(MaxRss(rss, 0, 1e9)), Mib(RssAt(rss, overload_end_s)),
              Mib(RssAt(rss, drained_s)), Mib(rss.empty() ? -1 : rss.back().kib), idle_s, rss.size(),
              static_cast<long long>(kRssInterval.count()));
  std::printf("server VmRSS (RssAnon) every 5 s, MiB:");
  for (size_t i = 0; i < rss.size(); i += 10) {
    std::printf(" %.0f (%.0f)", static_cast<double>(rss[i].kib) / 1024.0, static_cast<double>(rss[i].anon_kib) / 1024.0);
  }
  std::printf("\n");
  if (!options.load_records.empty()) WriteRecords(options.load_records, records, rss);
  std::printf("server counters over the load: %llu requests, %llu failed, %llu rejected (RESOURCE_EXHAUSTED), "
              "%llu batches, %llu sequences computed\n",
              static_cast<unsigned long long>(after.requests() - before.requests()),
              static_cast<unsigned long long>(after.requests_failed() - before.requests_failed()),
              static_cast<unsigned long long>(after.rejected_requests() - before.rejected_requests()),
              static_cast<unsigned long long>(after.batches() - before.batches()),
              static_cast<unsigned long long>(after.sequences_computed() - before.sequences_computed()));
  return 0;
}

}  // namespace dpo::bench
