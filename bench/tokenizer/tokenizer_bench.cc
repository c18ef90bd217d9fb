// dpo-bench-tokenizer: encoding speed of a tokenizer on a corpus (one JSON string per line),
// best of N passes, printed as one JSON line; optionally writes the ids (one JSON array a line).
//   dpo-bench-tokenizer --tokenizer DIR --corpus FILE [--passes N] [--threads T] [--cache N]
//                       [--ids-out FILE]
#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "core/common/run_main.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace {

std::vector<std::string> ReadCorpus(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw dpo::InvalidInput("cannot read " + path);
  std::vector<std::string> texts;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      texts.push_back(nlohmann::json::parse(line).get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw dpo::InvalidInput(path + ":" + std::to_string(number) + ": expected a JSON string: " + e.what());
    }
  }
  return texts;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dpo-bench-tokenizer: tokenizer encoding speed (MB/s)"};
  std::string tokenizer_spec, corpus_path, ids_out;
  int passes = 5, threads = 1;
  std::size_t cache_capacity = dpo::BpeTokenizer::Options{}.cache_capacity;
  app.add_option("--tokenizer", tokenizer_spec, "byte, or an HF tokenizer.json or its directory")->required();
  app.add_option("--corpus", corpus_path, "one JSON string per line")->required();
  app.add_option("--passes", passes, "timed passes; the best is reported")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads encoding disjoint lines of the corpus")->check(CLI::PositiveNumber);
  app.add_option("--cache", cache_capacity, "pre-token cache slots of an HF tokenizer (0: none)");
  app.add_option("--ids-out", ids_out, "write the ids of every line here (one JSON array a line)");
  CLI11_PARSE(app, argc, argv);

  return dpo::RunMain("dpo-bench-tokenizer", [&] {
    const auto load_start = dpo::Clock::now();
    dpo::BpeTokenizer::Options options;
    options.cache_capacity = cache_capacity;
    const std::shared_ptr<const dpo::Tokenizer> tokenizer =
        tokenizer_spec == "byte" ? dpo::CreateTokenizer(tokenizer_spec) : dpo::BpeTokenizer::Load(tokenizer_spec, options);
    const double load_seconds = dpo::SecondsSince(load_start);
    const std::vector<std::string> texts = ReadCorpus(corpus_path);
    std::size_t bytes = 0;
    for (const auto& text : texts) bytes += text.size();

    std::vector<std::size_t> tokens(static_cast<std::size_t>(threads));
    double best = 1e300;
    double first = 0;
    for (int pass = 0; pass < passes; ++pass) {
      const auto start = dpo::Clock::now();
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          std::size_t count = 0;
          for (std::size_t i = static_cast<std::size_t>(t); i < texts.size(); i += static_cast<std::size_t>(threads)) {
            count += tokenizer->Encode(texts[i]).size();
          }
          tokens[static_cast<std::size_t>(t)] = count;
        });
      }
      for (auto& worker : workers) worker.join();
      const double seconds = dpo::SecondsSince(start);
      if (pass == 0) first = seconds;
      best = std::min(best, seconds);
    }
    std::size_t total_tokens = 0;
    for (const std::size_t count : tokens) total_tokens += count;
    if (!ids_out.empty()) {
      std::ofstream out(ids_out);
      for (const auto& text : texts) out << nlohmann::json(tokenizer->Encode(text)).dump() << "\n";
      if (!out) throw dpo::Error(dpo::ErrorKind::kInternal, "cannot write " + ids_out);
    }
    nlohmann::ordered_json result{{"tokenizer", tokenizer->Name()},
                                  {"lines", texts.size()},
                                  {"bytes", bytes},
                                  {"tokens", total_tokens},
                                  {"threads", threads},
                                  {"cache_capacity", tokenizer_spec == "byte" ? 0 : cache_capacity},
                                  {"load_seconds", load_seconds},
                                  {"first_pass_seconds", first},
                                  {"seconds", best},
                                  {"mb_per_second", static_cast<double>(bytes) / 1e6 / best}};
    std::cout << result.dump() << "\n";
    return 0;
  });
}
