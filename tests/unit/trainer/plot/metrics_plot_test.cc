// dpo-plot's rendering: ticks, series selection from metrics.jsonl records, SVG content.
#include "trainer/plot/metrics_plot.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

TEST(MetricsPlotTest, NiceTicksCoverTheRangeWithRoundSteps) {
  EXPECT_EQ(NiceTicks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(NiceTicks(3, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const auto negative = NiceTicks(-23.4, -10.1);
  EXPECT_LE(negative.front(), -23.4);
  EXPECT_GE(negative.back(), -10.1);
  EXPECT_LE(negative.size(), 9u);
  const auto flat = NiceTicks(0.5, 0.5);  // a constant series still gets an axis
  EXPECT_LT(flat.front(), 0.5);
  EXPECT_GT(flat.back(), 0.5);
}

TEST(MetricsPlotTest, TrainingAndEvaluationRecordsFeedTheirOwnSeries) {
  const std::vector<nlohmann::json> records = {
      {{"step", 1}, {"loss", 0.69}, {"rewards/accuracies", 0.5}, {"rewards/chosen", 0.0}, {"rewards/rejected", 0.0}},
      {{"step", 2}, {"loss", 0.60}, {"rewards/accuracies", 0.75}, {"rewards/chosen", 0.1}, {"rewards/rejected", -0.1}},
      {{"step", 2}, {"eval_loss", 0.65}, {"eval_rewards/accuracies", 0.7}},
  };
  const auto panels = PanelsFromMetrics(records);
  ASSERT_EQ(panels.size(), 6u);
  EXPECT_EQ(panels[0].title, "Loss");
  EXPECT_EQ(panels[0].series[0].points, (std::vector<std::pair<double, double>>{{1, 0.69}, {2, 0.60}}));
  EXPECT_EQ(panels[0].series[1].points, (std::vector<std::pair<double, double>>{{2, 0.65}}));
  EXPECT_TRUE(panels[0].series[1].markers);
  EXPECT_EQ(panels[2].series[1].label, "rejected");
  EXPECT_EQ(panels[2].series[1].points.back().second, -0.1);
  EXPECT_TRUE(panels[5].series[0].points.empty());  // no log_ratio keys in these records
}

TEST(MetricsPlotTest, SvgHasEveryPanelALinePerSeriesAndADotPerEvaluation) {
  const std::vector<nlohmann::json> records = {
      {{"step", 1}, {"loss", 0.69}}, {{"step", 2}, {"loss", 0.6}}, {{"step", 2}, {"eval_loss", 0.65}}};
  const std::string svg = RenderSvg(PanelsFromMetrics(records), "run <1> & co");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("run &lt;1&gt; &amp; co"), std::string::npos);
  for (const char* title : {"Loss", "Reward accuracy", "Implicit rewards", "Reward margin", "KL proxy"}) {
    EXPECT_NE(svg.find(std::string(">") + title + "<"), std::string::npos) << title;
  }
  EXPECT_EQ(Count(svg, "<polyline"), 1u);  // only the training loss has data
  EXPECT_EQ(Count(svg, "<circle"), 1u);    // one evaluation point
  EXPECT_EQ(Count(svg, ">no data<"), 5u);
  EXPECT_NE(svg.find(">step<"), std::string::npos);
}

}  // namespace
}  // namespace dpo
