// Save/load of HF-layout model directories, single-file or sharded.
#include "core/model/pretrained.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ShardFileName(size_t index, size_t count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

bool IsShardFileName(const std::string& name) {
  static const std::regex kShard(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return std::regex_match(name, kShard);
}

const char* TorchDtypeName(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kBFloat16: return "bfloat16";
    case c10::kHalf: return "float16";
    default: throw InvalidInput(std::string("model save dtype ") + c10::toString(dtype) +
                                " is not supported (supported: float32, bfloat16, float16)");
  }
}

// Consecutive tensors grouped into shards of at most `max_bytes` (a larger tensor alone).
std::vector<std::vector<NamedTensor>> Shard(const std::vector<NamedTensor>& tensors, int64_t max_bytes) {
  std::vector<std::vector<NamedTensor>> shards(1);
  int64_t shard_bytes = 0;
  for (const auto& tensor : tensors) {
    const int64_t bytes = static_cast<int64_t>(tensor.tensor.nbytes());
    if (!shards.back().empty() && shard_bytes + bytes > max_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(tensor);
    shard_bytes += bytes;
  }
  return shards;
}

// model.safetensors.index.json's weight_map, validated.
std::map<std::string, std::string> ReadWeightMap(const std::string& index_path) {
  json index;
  try {
    index = json::parse(ReadFile(index_path));
  } catch (const json::parse_error& e) {
    throw InvalidInput(index_path + ": invalid JSON: " + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw InvalidInput(index_path + ": expected an object with a \"weight_map\" object (tensor name -> shard file)");
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, file] : index["weight_map"].items()) {
    if (!file.is_string()) throw InvalidInput(index_path + ": weight_map[\"" + name + "\"]: expected a file name, found " + file.dump());
    const std::string shard = file.get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      throw InvalidInput(index_path + ": weight_map[\"" + name + "\"]: \"" + shard +
                         "\" is not a file name in the model directory");
    }
    weight_map[name] = shard;
  }
  if (weight_map.empty()) throw InvalidInput(index_path + ": weight_map is empty");
  return weight_map;
}

void RemoveStaleWeightFiles(const fs::path& root, const std::set<std::string>& keep) {
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    const bool weights = name == kWeightsFileName || name == kWeightsIndexFileName || IsShardFileName(name);
    if (weights && keep.count(name) == 0) fs::remove(entry.path());
  }
}

}  // namespace

c10::ScalarType SaveDtypeFor(const std::string& torch_dtype) {
  if (torch_dtype == "bfloat16") return c10::kBFloat16;
  if (torch_dtype == "float16") return c10::kHalf;
  return c10::kFloat;
}

std::vector<std::string> SaveModelDirectory(CausalLm& model, const std::string& directory,
                                            const ModelSaveOptions& options) {
  if (options.max_shard_bytes <= 0) {
    throw InvalidInput("model save into " + directory + ": max_shard_bytes=" + std::to_string(options.max_shard_bytes) +
                       " must be > 0");
  }
  ModelConfig config = model.config();
  config.torch_dtype = TorchDtypeName(options.dtype);
  const fs::path root(directory);
  fs::create_directories(root);
  std::vector<NamedTensor> tensors = model.HfStateDict();
  for (auto& tensor : tensors) tensor.tensor = tensor.tensor.to(torch::kCPU, options.dtype).contiguous();

  const auto shards = Shard(tensors, options.max_shard_bytes);
  std::vector<std::string> files;
  if (shards.size() == 1) {
    WriteSafetensors((root / kWeightsFileName).string(), tensors);
    files.push_back(kWeightsFileName);
  } else {
    json weight_map = json::object();
    int64_t total_bytes = 0;
    files.push_back(kWeightsIndexFileName);
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string name = ShardFileName(i, shards.size());
      WriteSafetensors((root / name).string(), shards[i]);
      for (const auto& tensor : shards[i]) {
        weight_map[tensor.name] = name;
        total_bytes += static_cast<int64_t>(tensor.tensor.nbytes());
      }
      files.push_back(name);
    }
    const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    // Written after the shards: a reader never sees an index naming shards that are not there.
    WriteFileAtomically((root / kWeightsIndexFileName).string(), index.dump(2) + "\n");
  }
  RemoveStaleWeightFiles(root, std::set<std::string>(files.begin(), files.end()));
  config.Save((root / kConfigFileName).string());
  return files;
}

std::vector<std::string> ModelWeightFiles(const std::string& directory) {
  const fs::path root(directory);
  if (fs::exists(root / kWeightsFileName)) return {kWeightsFileName};
  const std::string index_path = (root / kWeightsIndexFileName).string();
  if (!fs::exists(index_path)) {
    throw InvalidInput(directory + ": missing model weights (" + kWeightsFileName + " or " + kWeightsIndexFileName + ")");
  }
  std::set<std::string> shards;
  for (const auto& [name, shard] : ReadWeightMap(index_path)) shards.insert(shard);
  std::vector<std::string> files = {kWeightsIndexFileName};
  files.insert(files.end(), shards.begin(), shards.end());
  return files;
}

std::vector<NamedTensor> ReadModelWeights(const std::string& directory) {
  const fs::path root(directory);
  const std::vector<std::string> files = ModelWeightFiles(directory);
  if (files.front() == kWeightsFileName) return ReadSafetensors((root / kWeightsFileName).string()).tensors;

  const std::string index_path = (root / kWeightsIndexFileName).string();
  std::map<std::string, std::string> unread = ReadWeightMap(index_path);
  for (size_t i = 1; i < files.size(); ++i) {
    if (!fs::exists(root / files[i])) throw InvalidInput(index_path + ": names shard " + files[i] + ", which is missing");
  }
  std::vector<NamedTensor> tensors;
  for (size_t i = 1; i < files.size(); ++i) {
    const std::string shard_path = (root / files[i]).string();
    for (auto& tensor : ReadSafetensors(shard_path).tensors) {
      const auto it = unread.find(tensor.name);
      if (it == unread.end() || it->second != files[i]) {
        throw InvalidInput(shard_path + ": tensor \"" + tensor.name + "\" is not in this shard according to " +
                           kWeightsIndexFileName + (it == unread.end() ? " (or appears twice)" : " (it names " + it->second + ")"));
      }
      unread.erase(it);
      tensors.push_back(std::move(tensor));
    }
  }
  if (!unread.empty()) {
    throw InvalidInput(index_path + ": tensor \"" + unread.begin()->first + "\" is not in its shard " +
                       unread.begin()->second + (unread.size() > 1 ? " (and " + std::to_string(unread.size() - 1) + " more)" : ""));
  }
  return tensors;
}

std::shared_ptr<CausalLm> LoadModelDirectory(const std::string& directory) {
  const fs::path root(directory);
  if (!fs::is_directory(root)) throw InvalidInput("model directory " + directory + " does not exist");
  const ModelConfig config = ModelConfig::Load((root / kConfigFileName).string());
  const std::vector<NamedTensor> tensors = ReadModelWeights(directory);
  auto model = CreateCausalLm(config, /*seed=*/0);
  model->LoadHfStateDict(tensors, (root / ModelWeightFiles(directory).front()).string());
  return model;
}

}  // namespace dpo
