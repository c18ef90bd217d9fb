// Plots of a training run's metrics.jsonl as one SVG: loss, reward accuracy, rewards of chosen
// and rejected, reward margins, policy log-probs, and the KL proxy (log pi - log pi_ref), each
// over steps, with evaluation records marked. No LibTorch; no plotting library.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dpo {

struct PlotSeries {
  std::string label;
  std::string color;                              // CSS colour
  std::vector<std::pair<double, double>> points;  // (step, value), in step order
  bool markers = false;                           // evaluation points: dots, no line
};

struct PlotPanel {
  std::string title;
  std::string y_label;
  std::vector<PlotSeries> series;
};

// One panel per quantity, from metrics.jsonl records (training records have "loss", evaluation
// records "eval_loss"; keys absent from every record leave their series empty).
std::vector<PlotPanel> PanelsFromMetrics(const std::vector<nlohmann::json>& records);

// "Nice" axis ticks covering [low, high]: 4-8 values at steps of 1, 2 or 5 x 10^k.
std::vector<double> NiceTicks(double low, double high);

// The panels in a grid of two columns, as a standalone SVG document titled `title`.
std::string RenderSvg(const std::vector<PlotPanel>& panels, const std::string& title);

}  // namespace dpo
