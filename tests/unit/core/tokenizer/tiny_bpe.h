// Small byte-level BPE tokenizer.json documents built in code, for the tokenizer unit tests:
// ids 0..255 are the bytes (in byte order), then one id per merge result in merge order.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/common/file_io.h"
#include "core/tokenizer/byte_level.h"

namespace dpo::testing {

struct TinyBpeSpec {
  std::vector<std::pair<std::string, std::string>> merges;  // raw text, e.g. {" ", "w"}
  bool pair_merges = false;  // ["a", "b"] instead of "a b"
  bool ignore_merges = false;
  std::vector<std::string> extra_vocabulary;  // raw text entries with no merge path
  nlohmann::json pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  nlohmann::json normalizer = nullptr;
  nlohmann::json added_tokens = nlohmann::json::array();
};

inline nlohmann::json ByteLevelStep(bool use_regex, bool add_prefix_space = false) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

inline nlohmann::json SplitStep(const std::string& regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

inline nlohmann::json AddedTokenJson(int64_t id, const std::string& content, bool special = true) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
          {"normalized", !special}, {"special", special}};
}

inline nlohmann::json TinyBpeJson(const TinyBpeSpec& spec) {
  nlohmann::json vocab = nlohmann::json::object();
  int64_t next = 0;
  const auto add = [&](const std::string& raw) {
    const std::string spelling = BytesToByteLevel(raw);
    if (!vocab.contains(spelling)) vocab[spelling] = next++;
  };
  for (int b = 0; b < 256; ++b) add(std::string(1, static_cast<char>(b)));
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [left, right] : spec.merges) {
    add(left + right);
    const std::string l = BytesToByteLevel(left), r = BytesToByteLevel(right);
    merges.push_back(spec.pair_merges ? nlohmann::json::array({l, r}) : nlohmann::json(l + " " + r));
  }
  for (const std::string& raw : spec.extra_vocabulary) add(raw);
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", spec.added_tokens},
          {"normalizer", spec.normalizer},
          {"pre_tokenizer", spec.pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", ByteLevelStep(true)},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", spec.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
}

// Writes tokenizer.json (and tokenizer_config.json unless `config` is null) into `directory`.
inline void WriteTokenizerFiles(const std::string& directory, const nlohmann::json& tokenizer,
                                const nlohmann::json& config = nullptr) {
  WriteFileAtomically(directory + "/tokenizer.json", tokenizer.dump());
  if (!config.is_null()) WriteFileAtomically(directory + "/tokenizer_config.json", config.dump());
}

}  // namespace dpo::testing
