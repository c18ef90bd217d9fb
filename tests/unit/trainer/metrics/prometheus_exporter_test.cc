// PrometheusExporter: the exposition served over HTTP after a few reports.
#include "trainer/metrics/prometheus_exporter.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/http_get.h"

namespace dpo {
namespace {

StepReport Step(int64_t step, double loss, bool skipped = false) {
  StepReport report;
  report.step = step;
  report.loss = loss;
  report.means = {{"rewards/chosen", 0.2},   {"rewards/rejected", -0.1}, {"rewards/margins", 0.3},
                  {"rewards/accuracies", 0.75}, {"logps/chosen", -40.0},  {"logps/rejected", -55.0}};
  report.grad_norm = 1.5;
  report.learning_rate = 1e-4;
  report.tokens = 1000;
  report.pairs = 8;
  report.skipped = skipped;
  report.skip_reason = skipped ? "nonfinite_loss" : "";
  report.step_seconds = 0.3;
  report.reference_wait_seconds = 0.02;
  report.allreduce_seconds = 0.004;
  return report;
}

TEST(PrometheusExporterTest, ServesEverySeriesWithTheRankLabel) {
  PrometheusExporter exporter("127.0.0.1:0", 3, /*beta=*/0.1, "cpu");
  exporter.OnDataLoaded({{"too_long", 4}, {"invalid_json", 0}});
  exporter.OnStep(Step(1, 0.69));
  exporter.OnStep(Step(2, 0.5, /*skipped=*/true));
  exporter.OnCheckpoint(2);
  const testing::HttpResponse response = testing::HttpGet("127.0.0.1", exporter.port(), "/metrics");
  ASSERT_EQ(response.status, 200);
  const std::string& text = response.body;
  for (const char* line : {
           "dpo_train_loss{rank=\"3\"} 0.5\n",
           "dpo_train_steps_total{rank=\"3\"} 2\n",
           "dpo_train_tokens_total{rank=\"3\"} 2000\n",
           "dpo_train_pairs_total{rank=\"3\"} 16\n",
           "dpo_train_reward_accuracy_ratio{rank=\"3\"} 0.75\n",
           "dpo_train_reward_margin{rank=\"3\"} 0.3\n",
           "dpo_train_logp_chosen{rank=\"3\"} -40\n",
           "dpo_train_log_ratio_chosen{rank=\"3\"} 2\n",
           "dpo_train_log_ratio_rejected{rank=\"3\"} -1\n",
           "dpo_train_grad_norm{rank=\"3\"} 1.5\n",
           "dpo_train_pairs_dropped_total{rank=\"3\",reason=\"too_long\"} 4\n",
           "dpo_train_skipped_steps_total{rank=\"3\",reason=\"nonfinite_loss\"} 1\n",
           "dpo_train_step_duration_seconds_count{rank=\"3\"} 2\n",
           "dpo_train_reference_wait_seconds_sum{rank=\"3\"} 0.04\n",
           "dpo_train_allreduce_duration_seconds_bucket{rank=\"3\",le=\"0.005\"} 2\n",
           "# TYPE dpo_train_step_duration_seconds histogram\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  EXPECT_NE(text.find("dpo_build_info{device=\"cpu\",rank=\"3\",torch_version=\""), std::string::npos) << text;
  EXPECT_EQ(text.find("dpo_checkpoint_last_success_timestamp_seconds{rank=\"3\"} 0\n"), std::string::npos);
  EXPECT_EQ(testing::HttpGet("127.0.0.1", exporter.port(), "/").status, 404);
}

TEST(PrometheusExporterTest, RankAddressesAddTheLocalRankAndPortZeroDisables) {
  EXPECT_EQ(RankMetricsAddress("0.0.0.0:9400", 0), "0.0.0.0:9400");
  EXPECT_EQ(RankMetricsAddress("0.0.0.0:9400", 3), "0.0.0.0:9403");
  EXPECT_EQ(RankMetricsAddress("127.0.0.1:0", 2), "");
  EXPECT_EQ(RankMetricsAddress("[::1]:9000", 1), "[::1]:9001");
}

}  // namespace
}  // namespace dpo
