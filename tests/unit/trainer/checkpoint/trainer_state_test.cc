// TrainerState JSON round trip and field-level errors; CPU generator state capture/restore.
#include "trainer/checkpoint/trainer_state.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "tests/unit/trainer/checkpoint/checkpoint_test_util.h"

namespace dpo {
namespace {

using nlohmann::json;

TEST(TrainerStateTest, JsonRoundTripKeepsEveryField) {
  const TrainerState state = testing::MakeState(42);
  const json written = state.ToJson();
  EXPECT_EQ(written.at("format_version"), kTrainerStateFormatVersion);
  EXPECT_EQ(written.at("sampler").at("step_in_epoch"), 2);
  // Through text, as in trainer_state.json.
  const TrainerState read = TrainerState::FromJson(json::parse(written.dump(2)), "state.json");
  EXPECT_EQ(read, state);
  EXPECT_EQ(read.step, 42);
  EXPECT_EQ(read.sampler.epoch, 2);
  EXPECT_EQ(read.world_size, 4);
  EXPECT_EQ(read.tokens_seen, 42017);
  EXPECT_EQ(read.extra.at("values"), json::array({1, 2, 3}));
  EXPECT_EQ(read.torch_rng_state, state.torch_rng_state);
}

TEST(TrainerStateTest, OptimizerFilesRoundTripAndDefaultToTheWholeOptimizerOfOlderCheckpoints) {
  TrainerState sharded = testing::MakeState(2);
  sharded.optimizer_files = {"optimizer-shard-00000-of-00002.pt", "optimizer-shard-00001-of-00002.pt"};
  EXPECT_EQ(TrainerState::FromJson(json::parse(sharded.ToJson().dump()), "s").optimizer_files, sharded.optimizer_files);
  json older = sharded.ToJson();
  older.erase("optimizer_files");
  EXPECT_EQ(TrainerState::FromJson(older, "s").optimizer_files, std::vector<std::string>{"optimizer.pt"});
}

TEST(TrainerStateTest, LargeCountersSurviveExactly) {
  TrainerState state;
  state.tokens_seen = (int64_t{1} << 62) + 1;  // not representable as a double
  EXPECT_EQ(TrainerState::FromJson(json::parse(state.ToJson().dump()), "s").tokens_seen, state.tokens_seen);
}

TEST(TrainerStateTest, ExtraIsOptionalAndUnknownKeysAreIgnored) {
  json written = testing::MakeState(1).ToJson();
  written.erase("extra");
  written["files"] = {{"a", "b"}};
  const TrainerState read = TrainerState::FromJson(written, "s");
  EXPECT_EQ(read.extra, json::object());
  EXPECT_EQ(read.step, 1);
}

struct BadFieldCase {
  std::string name;
  std::function<void(json&)> mutate;
  std::string expected_field;  // appears quoted in the message
  std::string expected_problem;
};

TEST(TrainerStateTest, FromJsonErrorsNameTheFileAndTheField) {
  const std::vector<BadFieldCase> cases = {
      {"missing step", [](json& j) { j.erase("step"); }, "\"step\"", "missing"},
      {"string step", [](json& j) { j["step"] = "7"; }, "\"step\"", "expected an integer"},
      {"float step", [](json& j) { j["step"] = 1.5; }, "\"step\"", "expected an integer"},
      {"negative step", [](json& j) { j["step"] = -1; }, "\"step\"", "below the minimum 0"},
      {"sampler not object", [](json& j) { j["sampler"] = 3; }, "\"sampler\"", "expected an object"},
      {"missing epoch", [](json& j) { j["sampler"].erase("epoch"); }, "\"sampler.epoch\"", "missing"},
      {"zero world size", [](json& j) { j["world_size"] = 0; }, "\"world_size\"", "below the minimum 1"},
      {"hash not string", [](json& j) { j["config_hash"] = 5; }, "\"config_hash\"", "expected a string"},
      {"rng missing", [](json& j) { j.erase("torch_rng_state"); }, "\"torch_rng_state\"", "missing"},
      {"skips negative", [](json& j) { j["consecutive_skipped_steps"] = -2; }, "\"consecutive_skipped_steps\"",
       "below the minimum"},
      {"huge unsigned", [](json& j) { j["pairs_seen"] = UINT64_MAX; }, "\"pairs_seen\"", "out of range"},
      {"newer format", [](json& j) { j["format_version"] = 99; }, "\"format_version\"", "newer than the supported 1"},
      {"no optimizer files", [](json& j) { j["optimizer_files"] = json::array(); }, "\"optimizer_files\"",
       "expected a non-empty array"},
      {"optimizer file outside", [](json& j) { j["optimizer_files"] = {"../x.pt"}; }, "\"optimizer_files\"",
       "expected plain file names, found \"../x.pt\""},
  };
  for (const BadFieldCase& c : cases) {
    json bad = testing::MakeState(3).ToJson();
    c.mutate(bad);
    try {
      TrainerState::FromJson(bad, "out/step-3/trainer_state.json");
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.name;
      EXPECT_EQ(message.rfind("out/step-3/trainer_state.json: field " + c.expected_field, 0), 0u)
          << c.name << ": " << message;
      EXPECT_NE(message.find(c.expected_problem), std::string::npos) << c.name << ": " << message;
    }
  }
}

TEST(TrainerStateTest, FromJsonRejectsNonObject) {
  EXPECT_THROW(TrainerState::FromJson(json::array(), "s.json"), Error);
}

TEST(TrainerStateTest, RngStateRestoreReplaysTheSameDraws) {
  const std::string saved = CaptureTorchRngState();
  EXPECT_GT(saved.size(), 1000u);
  const at::Tensor first = torch::rand({16});
  const at::Tensor first_normal = torch::randn({5});
  EXPECT_NE(CaptureTorchRngState(), saved);
  RestoreTorchRngState(saved);
  EXPECT_EQ(CaptureTorchRngState(), saved);
  EXPECT_TRUE(torch::equal(torch::rand({16}), first));
  EXPECT_TRUE(torch::equal(torch::randn({5}), first_normal));
}

TEST(TrainerStateTest, RngStateRejectsBadHex) {
  const std::string saved = CaptureTorchRngState();
  std::string bad_digit = saved;
  bad_digit[10] = 'g';
  for (const std::string& bad : {std::string(), saved.substr(2), saved + "00", bad_digit}) {
    EXPECT_THROW(RestoreTorchRngState(bad), Error) << bad.size();
  }
  EXPECT_EQ(CaptureTorchRngState(), saved);  // untouched by the failed restores
}

}  // namespace
}  // namespace dpo
