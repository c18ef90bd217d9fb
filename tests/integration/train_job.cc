// TrainJob: files for a small dpo-train run.
#include "tests/integration/train_job.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/common/file_io.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {

TrainJob::TrainJob(int pairs, const std::string& training_extra, const std::string& output_extra,
                   const std::string& model_init) {
  std::ofstream data(dir_.File("train.jsonl"));
  const std::vector<std::string> topics = {"tea", "rain", "maps", "jazz", "bikes", "stars", "soup", "code"};
  for (int i = 0; i < pairs; ++i) {
    const std::string topic = topics[static_cast<size_t>(i) % topics.size()];
    nlohmann::json row = {{"prompt", "Q: tell me about " + topic + " #" + std::to_string(i) + "\nA:"},
                          {"chosen", " " + topic + " is lovely and kind"},
                          {"rejected", " " + topic + " is awful, go away"}};
    data << row.dump() << "\n";
  }
  data.close();
  std::ofstream job(dir_.File("job.yaml"));
  if (model_init == "random") {
    job << "model:\n  init: random\n  seed: 3\n  n_positions: 96\n  n_embd: 32\n  n_layer: 2\n  n_head: 2\n"
        << "data:\n  train: train.jsonl\n  max_length: 96\n  max_prompt_length: 48\n";
  } else {
    job << "model:\n  init: " << model_init << "\n"
        << "data:\n  train: train.jsonl\n  max_length: 64\n  max_prompt_length: 32\n";
  }
  job << "training:\n  loss_type: sigmoid\n  beta: 0.1\n  learning_rate: 0.001\n  per_device_batch_size: 4\n"
      << "  gradient_accumulation_steps: 2\n  lr_scheduler: linear\n  warmup_steps: 1\n  threads: 1\n"
      << training_extra << "output:\n  dir: output\n" << output_extra << "metrics:\n  progress: never\n";
}

std::vector<std::string> TrainJob::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> command = {BinaryPath("dpo-train"), "--config", config_path()};
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

std::vector<nlohmann::json> TrainJob::Metrics() const {
  std::vector<nlohmann::json> records;
  std::istringstream lines(ReadFile(output_dir() + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

std::string TrainJob::FinalWeights() const { return ReadFile(output_dir() + "/final/model.safetensors"); }

StepMemory ParseStepMemory(const std::string& output) {
  std::smatch match;
  const std::regex line(R"(tensor memory at the training steps' peak, rank 0: .* \((\d+) bytes\) measured, .* \((\d+) bytes\) modelled)");
  if (!std::regex_search(output, match, line)) return {};
  return {std::stoll(match[1]), std::stoll(match[2])};
}

const std::vector<std::string>& SingleThreadEnv() {
  static const std::vector<std::string> env = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
  return env;
}

std::vector<std::string> ProcessesMentioning(const std::string& text) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos || std::stoi(name) == ::getpid()) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(text) != std::string::npos) found.push_back(name + ": " + cmdline);
  }
  return found;
}

}  // namespace dpo::testing
