// SVG rendering of metric panels.
#include "trainer/plot/metrics_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace dpo {
namespace {

constexpr double kPanelWidth = 520, kPanelHeight = 300;
constexpr double kLeft = 70, kRight = 20, kTop = 52, kBottom = 48;  // plot area margins inside a panel

std::string Escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", std::abs(value) < 1e-12 ? 0.0 : value);
  return buffer;
}

// Adds (step, record[key]) for records that have `selector_key` and a numeric `key`.
std::vector<std::pair<double, double>> Points(const std::vector<nlohmann::json>& records, const std::string& selector_key,
                                              const std::string& key) {
  std::vector<std::pair<double, double>> points;
  for (const auto& record : records) {
    if (!record.contains(selector_key) || !record.contains(key) || !record[key].is_number() || !record.contains("step")) continue;
    const double value = record[key].get<double>();
    if (std::isfinite(value)) points.emplace_back(record["step"].get<double>(), value);
  }
  return points;
}

void RenderPanel(std::ostringstream& svg, const PlotPanel& panel, double x0, double y0) {
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
  for (const auto& series : panel.series) {
    for (const auto& [x, y] : series.points) {
      x_low = std::min(x_low, x), x_high = std::max(x_high, x), y_low = std::min(y_low, y), y_high = std::max(y_high, y);
    }
  }
  svg << "<g transform=\"translate(" << x0 << "," << y0 << ")\">\n"
      << "<text x=\"" << kPanelWidth / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">"
      << Escape(panel.title) << "</text>\n";
  const double width = kPanelWidth - kLeft - kRight, height = kPanelHeight - kTop - kBottom;
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"none\" stroke=\"#888\"/>\n";
  if (!std::isfinite(x_low)) {
    svg << "<text x=\"" << kLeft + width / 2 << "\" y=\"" << kTop + height / 2
        << "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</g>\n";
    return;
  }
  const std::vector<double> x_ticks = NiceTicks(x_low, x_high), y_ticks = NiceTicks(y_low, y_high);
  x_low = std::min(x_low, x_ticks.front()), x_high = std::max(x_high, x_ticks.back());
  y_low = std::min(y_low, y_ticks.front()), y_high = std::max(y_high, y_ticks.back());
  const auto px = [&](double x) { return kLeft + (x_high > x_low ? (x - x_low) / (x_high - x_low) : 0.5) * width; };
  const auto py = [&](double y) { return kTop + height - (y_high > y_low ? (y - y_low) / (y_high - y_low) : 0.5) * height; };
  for (const double tick : x_ticks) {
    svg << "<line x1=\"" << px(tick) << "\" y1=\"" << kTop + height << "\" x2=\"" << px(tick) << "\" y2=\"" << kTop
        << "\" stroke=\"#eee\"/><text x=\"" << px(tick) << "\" y=\"" << kTop + height + 16
        << "\" text-anchor=\"middle\" font-size=\"11\">" << Number(tick) << "</text>\n";
  }
  for (const double tick : y_ticks) {
    svg << "<line x1=\"" << kLeft << "\" y1=\"" << py(tick) << "\" x2=\"" << kLeft + width << "\" y2=\"" << py(tick)
        << "\" stroke=\"#eee\"/><text x=\"" << kLeft - 6 << "\" y=\"" << py(tick) + 4
        << "\" text-anchor=\"end\" font-size=\"11\">" << Number(tick) << "</text>\n";
  }
  svg << "<text x=\"" << kLeft + width / 2 << "\" y=\"" << kPanelHeight - 12 << "\" text-anchor=\"middle\" font-size=\"12\">step</text>\n"
      << "<text transform=\"translate(16," << kTop + height / 2 << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">"
      << Escape(panel.y_label) << "</text>\n";
  for (const auto& series : panel.series) {
    if (series.points.empty()) continue;
    if (series.markers) {
      for (const auto& [x, y] : series.points) {
        svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"4\" fill=\"" << series.color << "\" stroke=\"#000\"/>\n";
      }
    } else {
      svg << "<polyline fill=\"none\" stroke-width=\"1.6\" stroke=\"" << series.color << "\" points=\"";
      for (const auto& [x, y] : series.points) svg << px(x) << "," << py(y) << " ";
      svg << "\"/>\n";
    }
  }
  // The legend: one row between the title and the plot area, where no data can hide it.
  double legend_x = kLeft;
  for (const auto& series : panel.series) {
    if (series.points.empty()) continue;
    svg << "<rect x=\"" << legend_x << "\" y=\"" << (series.markers ? 33 : 37) << "\" width=\"12\" height=\""
        << (series.markers ? 10 : 3) << "\" fill=\"" << series.color << "\"/><text x=\"" << legend_x + 16
        << "\" y=\"42\" font-size=\"11\">" << Escape(series.label) << "</text>\n";
    legend_x += 30 + 6.5 * static_cast<double>(series.label.size());
  }
  svg << "</g>\n";
}

}  // namespace

std::vector<double> NiceTicks(double low, double high) {
  if (!(high > low)) {
    const double pad = std::max(1e-9, std::abs(low) * 0.1 + (low == 0 ? 1 : 0));
    low -= pad, high += pad;
  }
  const double raw_step = (high - low) / 5;
  const int exponent = static_cast<int>(std::floor(std::log10(raw_step)));
  // step = factor * 10^exponent; ticks are k * factor scaled by an exact power of ten, so that
  // 0.6 is 6 / 10 rather than 3 * 0.2000000001.
  const double scale = std::pow(10.0, std::abs(exponent));
  const auto value = [&](double units) { return exponent < 0 ? units / scale : units * scale; };
  double factor = 1;
  for (const double candidate : {1.0, 2.0, 5.0, 10.0}) {
    factor = candidate;
    if ((high - low) / value(candidate) <= 7) break;
  }
  std::vector<double> ticks;
  const double step = value(factor);
  for (double k = std::floor(low / step); value(k * factor) <= high + step * 1e-9; ++k) ticks.push_back(value(k * factor));
  if (ticks.back() < high) ticks.push_back(value((std::round(ticks.back() / step) + 1) * factor));
  return ticks;
}

std::vector<PlotPanel> PanelsFromMetrics(const std::vector<nlohmann::json>& records) {
  const std::string blue = "#1f77b4", orange = "#ff7f0e", green = "#2ca02c", red = "#d62728";
  const auto train = [&](const std::string& key, const std::string& label, const std::string& color) {
    return PlotSeries{label, color, Points(records, "loss", key), false};
  };
  const auto eval = [&](const std::string& key, const std::string& label, const std::string& color) {
    return PlotSeries{label, color, Points(records, "eval_loss", key), true};
  };
  return {
      {"Loss", "loss", {train("loss", "train", blue), eval("eval_loss", "eval", orange)}},
      {"Reward accuracy", "share of pairs", {train("rewards/accuracies", "train", blue), eval("eval_rewards/accuracies", "eval", orange)}},
      {"Implicit rewards", "beta * log(pi / pi_ref)",
       {train("rewards/chosen", "chosen", green), train("rewards/rejected", "rejected", red),
        eval("eval_rewards/chosen", "eval chosen", green), eval("eval_rewards/rejected", "eval rejected", red)}},
      {"Reward margin", "chosen - rejected", {train("rewards/margins", "train", blue), eval("eval_rewards/margins", "eval", orange)}},
      {"Policy log-probs (drift)", "nats per response",
       {train("logps/chosen", "chosen", green), train("logps/rejected", "rejected", red)}},
      {"KL proxy", "log pi - log pi_ref (nats)",
       {train("log_ratio/chosen", "chosen", green), train("log_ratio/rejected", "rejected", red)}},
  };
}

std::string RenderSvg(const std::vector<PlotPanel>& panels, const std::string& title) {
  const int columns = 2;
  const int rows = static_cast<int>((panels.size() + 1) / 2);
  const double width = columns * kPanelWidth, height = rows * kPanelHeight + 40;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"26\" text-anchor=\"middle\" font-size=\"18\">" << Escape(title) << "</text>\n";
  for (size_t i = 0; i < panels.size(); ++i) {
    RenderPanel(svg, panels[i], static_cast<double>(i % columns) * kPanelWidth,
                40 + static_cast<double>(i / columns) * kPanelHeight);
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace dpo
