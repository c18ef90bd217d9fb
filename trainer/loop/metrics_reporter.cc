// Interval sums -> metrics.jsonl records and the progress line.
#include "trainer/loop/metrics_reporter.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace dpo {

MetricsReporter::MetricsReporter(MetricsReporterOptions options, MetricsLog* log, ProgressLine& progress)
    : options_(options), log_(log), progress_(progress) {}

void MetricsReporter::OnStep(const StepReport& report) {
  ++steps_this_run_;
  ++interval_.steps;
  interval_.loss += report.loss;
  interval_.metrics.Add(report.metric_sums);
  interval_.tokens += report.tokens;
  interval_.pairs += report.pairs;
  interval_.grad_sync_seconds += report.allreduce_seconds;
  if (report.step % options_.logging_steps != 0 && report.step != report.total_steps) return;

  const double seconds = std::max(1e-9, SecondsSince(interval_.started));
  const double steps = static_cast<double>(interval_.steps);
  const auto means = interval_.metrics.Means();
  nlohmann::json record = {
      {"step", report.step},
      {"epoch", report.epoch},
      {"loss", interval_.loss / steps},
      {"grad_norm", report.grad_norm},
      {"learning_rate", report.learning_rate},
      {"num_tokens", report.tokens_seen},
      {"pairs/s", static_cast<double>(interval_.pairs) / seconds},
      {"tokens/s", static_cast<double>(interval_.tokens) / seconds},
      {"skipped_steps", report.skipped_steps},
      {"time/step_s", seconds / steps},
  };
  if (options_.world_size > 1) record["time/grad_sync_s"] = interval_.grad_sync_seconds / steps;
  for (const auto& [key, value] : means) record[key] = value;
  // The KL proxy: mean log pi - log pi_ref of the chosen and of the rejected responses (nats).
  record["log_ratio/chosen"] = means.at("rewards/chosen") / options_.beta;
  record["log_ratio/rejected"] = means.at("rewards/rejected") / options_.beta;
  if (log_ != nullptr) log_->Write(record);

  const double per_step = SecondsSince(run_started_) / static_cast<double>(steps_this_run_);
  progress_.Update(report.step, report.total_steps, record["loss"], means.at("rewards/accuracies"),
                   means.at("rewards/margins"), record["pairs/s"],
                   per_step * static_cast<double>(report.total_steps - report.step));
  interval_ = Interval{};
}

void MetricsReporter::OnEvaluation(const EvalReport& report) {
  nlohmann::json record = {{"step", report.step}, {"eval_loss", report.loss}};
  for (const auto& [key, value] : report.means) record["eval_" + key] = value;
  if (log_ != nullptr) log_->Write(record);
}

}  // namespace dpo
