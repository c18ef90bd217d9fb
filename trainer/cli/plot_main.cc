// dpo-plot: a training run's metrics as one picture.
//   dpo-plot --metrics output/metrics.jsonl --out report.svg [--png report.png] [--title T]
// The PNG is made from the SVG by rsvg-convert or ImageMagick's convert when one is installed.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/run_main.h"
#include "trainer/plot/metrics_plot.h"

namespace {

std::vector<nlohmann::json> ReadRecords(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(dpo::ReadFile(path));
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw dpo::InvalidInput(path + ":" + std::to_string(number) + ": not a JSON object: " + e.what());
    }
  }
  if (records.empty()) throw dpo::InvalidInput(path + ": no records");
  return records;
}

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dpo-plot: loss, rewards, accuracy, margins, log-probs and KL proxy of a run, as SVG (and PNG)"};
  std::string metrics_path, svg_path, png_path, title;
  app.add_option("--metrics", metrics_path, "metrics.jsonl of a run")->required();
  app.add_option("--out", svg_path, "SVG file to write")->required();
  app.add_option("--png", png_path, "also write a PNG (needs rsvg-convert or ImageMagick convert)");
  app.add_option("--title", title, "picture title (default: the metrics path)");
  CLI11_PARSE(app, argc, argv);
  return dpo::RunMain("dpo-plot", [&] {
    const auto panels = dpo::PanelsFromMetrics(ReadRecords(metrics_path));
    dpo::WriteFileAtomically(svg_path, dpo::RenderSvg(panels, title.empty() ? metrics_path : title));
    std::cout << svg_path << "\n";
    if (png_path.empty()) return 0;
    for (const std::string& command :
         {"rsvg-convert -o " + Quote(png_path) + " " + Quote(svg_path), "convert " + Quote(svg_path) + " " + Quote(png_path)}) {
      const std::string tool = command.substr(0, command.find(' '));
      if (std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) != 0) continue;
      if (std::system((command + " 2>/dev/null").c_str()) == 0) {
        std::cout << png_path << "\n";
        return 0;
      }
    }
    throw dpo::InvalidInput("--png " + png_path + ": neither rsvg-convert nor convert could make it (apt-get install librsvg2-bin)");
  });
}
