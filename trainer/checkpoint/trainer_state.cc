// TrainerState <-> JSON with field-level errors, and the CPU generator state as hex.
#include "trainer/checkpoint/trainer_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstring>
#include <mutex>

#include "core/common/error.h"

namespace dpo {
namespace {

using nlohmann::json;

// Field access that names the file and the field (dotted path) in every error.
class FieldReader {
 public:
  FieldReader(const json& object, std::string source, std::string prefix)
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  const json& Get(const char* name) const {
    const auto it = object_.find(name);
    if (it == object_.end()) throw Fail(name, "missing");
    return *it;
  }
  int64_t Int(const char* name, int64_t min_value) const {
    const json& value = Get(name);
    if (!value.is_number_integer()) throw Fail(name, "expected an integer, found " + value.dump());
    const int64_t result = value.get<int64_t>();
    if (value.is_number_unsigned() && result < 0) throw Fail(name, value.dump() + " out of range");
    if (result < min_value) {
      throw Fail(name, std::to_string(result) + " is below the minimum " + std::to_string(min_value));
    }
    return result;
  }
  std::string String(const char* name) const {
    const json& value = Get(name);
    if (!value.is_string()) throw Fail(name, "expected a string, found " + value.dump());
    return value.get<std::string>();
  }
  FieldReader Object(const char* name) const {
    const json& value = Get(name);
    if (!value.is_object()) throw Fail(name, "expected an object, found " + value.dump());
    return FieldReader(value, source_, prefix_ + name + ".");
  }
  Error Fail(const char* name, const std::string& problem) const {
    return InvalidInput(source_ + ": field \"" + prefix_ + name + "\": " + problem);
  }

 private:
  const json& object_;
  std::string source_;
  std::string prefix_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

json TrainerState::ToJson() const {
  return json{
      {"format_version", kTrainerStateFormatVersion},
      {"step", step},
      {"sampler", {{"epoch", sampler.epoch}, {"step_in_epoch", sampler.step_in_epoch}}},
      {"config_hash", config_hash},
      {"reference_fingerprint", reference_fingerprint},
      {"world_size", world_size},
      {"tokens_seen", tokens_seen},
      {"pairs_seen", pairs_seen},
      {"skipped_steps", skipped_steps},
      {"consecutive_skipped_steps", consecutive_skipped_steps},
      {"torch_rng_state", torch_rng_state},
      {"optimizer_files", optimizer_files},
      {"extra", extra},
  };
}

TrainerState TrainerState::FromJson(const json& object, const std::string& source) {
  if (!object.is_object()) throw InvalidInput(source + ": expected a JSON object, found " + object.type_name());
  const FieldReader fields(object, source, "");
  const int64_t version = fields.Int("format_version", 1);
  if (version > kTrainerStateFormatVersion) {
    throw fields.Fail("format_version", std::to_string(version) + " is newer than the supported " +
                                            std::to_string(kTrainerStateFormatVersion));
  }
  TrainerState state;
  state.step = fields.Int("step", 0);
  const FieldReader sampler = fields.Object("sampler");
  state.sampler.epoch = sampler.Int("epoch", 0);
  state.sampler.step_in_epoch = sampler.Int("step_in_epoch", 0);
  state.config_hash = fields.String("config_hash");
  state.reference_fingerprint = fields.String("reference_fingerprint");
  const int64_t world_size = fields.Int("world_size", 1);
  if (world_size > INT32_MAX) throw fields.Fail("world_size", std::to_string(world_size) + " is too large");
  state.world_size = static_cast<int>(world_size);
  state.tokens_seen = fields.Int("tokens_seen", 0);
  state.pairs_seen = fields.Int("pairs_seen", 0);
  state.skipped_steps = fields.Int("skipped_steps", 0);
  state.consecutive_skipped_steps = fields.Int("consecutive_skipped_steps", 0);
  state.torch_rng_state = fields.String("torch_rng_state");
  if (const auto files = object.find("optimizer_files"); files != object.end()) {
    if (!files->is_array() || files->empty()) throw fields.Fail("optimizer_files", "expected a non-empty array of file names");
    state.optimizer_files.clear();
    for (const json& name : *files) {
      if (!name.is_string() || name.get<std::string>().empty() || name.get<std::string>().find('/') != std::string::npos) {
        throw fields.Fail("optimizer_files", "expected plain file names, found " + name.dump());
      }
      state.optimizer_files.push_back(name.get<std::string>());
    }
  }
  const auto extra = object.find("extra");
  state.extra = extra == object.end() ? json::object() : *extra;
  return state;
}

bool TrainerState::operator==(const TrainerState& other) const {
  return step == other.step && sampler.epoch == other.sampler.epoch &&
         sampler.step_in_epoch == other.sampler.step_in_epoch && config_hash == other.config_hash &&
         reference_fingerprint == other.reference_fingerprint && world_size == other.world_size &&
         tokens_seen == other.tokens_seen && pairs_seen == other.pairs_seen &&
         skipped_steps == other.skipped_steps && consecutive_skipped_steps == other.consecutive_skipped_steps &&
         torch_rng_state == other.torch_rng_state && optimizer_files == other.optimizer_files && extra == other.extra;
}

std::string CaptureTorchRngState() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state();
  }
  state = state.contiguous();
  const auto* bytes = state.data_ptr<uint8_t>();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(static_cast<size_t>(state.numel()) * 2, '0');
  for (int64_t i = 0; i < state.numel(); ++i) {
    hex[2 * i] = kHex[bytes[i] >> 4];
    hex[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return hex;
}

void RestoreTorchRngState(const std::string& hex) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  const int64_t expected_bytes = generator.get_state().numel();
  if (hex.size() != static_cast<size_t>(expected_bytes) * 2) {
    throw InvalidInput("torch_rng_state: " + std::to_string(hex.size()) + " hex digits, expected " +
                       std::to_string(expected_bytes * 2) + " (the CPU generator state size)");
  }
  at::Tensor state = torch::empty({expected_bytes}, torch::kUInt8);
  auto* bytes = state.data_ptr<uint8_t>();
  for (int64_t i = 0; i < expected_bytes; ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      throw InvalidInput("torch_rng_state: invalid hex digit at offset " + std::to_string(high < 0 ? 2 * i : 2 * i + 1));
    }
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  try {
    generator.set_state(state);
  } catch (const c10::Error& e) {
    throw InvalidInput(std::string("torch_rng_state: rejected by the CPU generator: ") + e.what_without_backtrace());
  }
}

}  // namespace dpo
