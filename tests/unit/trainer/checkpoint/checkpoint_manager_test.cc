// CheckpointManager save/load round trips, the latest pointer, retention and stale temp dirs.
#include "trainer/checkpoint/checkpoint_manager.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "core/common/sha256.h"
#include "tests/unit/trainer/checkpoint/checkpoint_test_util.h"
#include "trainer/checkpoint/checkpoint_layout.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using testing::MakeState;
using testing::MakeTinySetup;
using testing::TempDir;
using testing::TinySetup;

const std::string kYaml = "model:\n  family: gpt2\ntraining:\n  beta: 0.1\n";

class CheckpointManagerTest : public ::testing::Test {
 protected:
  std::string Output() const { return temp_.File("out"); }
  std::string Save(CheckpointManager& manager, TinySetup& setup, int64_t step) {
    return manager.Save(step, *setup.model, *setup.tokenizer, *setup.optimizer, MakeState(step), kYaml);
  }
  std::vector<std::string> StepNames() const {
    std::vector<std::string> names;
    for (const auto& [step, path] : ListStepCheckpoints(Output())) names.push_back(StepDirectoryName(step));
    return names;
  }

  TempDir temp_;
};

TEST_F(CheckpointManagerTest, SaveWritesEveryFileWithChecksumsAndLatest) {
  TinySetup setup = MakeTinySetup(1);
  testing::TrainOneStep(setup, 1);
  CheckpointManager manager(Output(), 0);
  const std::string dir = Save(manager, setup, 3);
  EXPECT_EQ(dir, Output() + "/step-3");
  EXPECT_EQ(testing::ListNames(dir),
            (std::vector<std::string>{"config.json", "dpo_tokenizer.json", "job.yaml", "model.safetensors",
                                      "optimizer.pt", "trainer_state.json"}));
  EXPECT_EQ(ReadFile(dir + "/job.yaml"), kYaml);
  const auto json = nlohmann::json::parse(ReadFile(dir + "/trainer_state.json"));
  ASSERT_EQ(json.at("files").size(), 5u);
  for (const std::string& name : CheckpointChecksummedFiles(dir, {kOptimizerFileName})) {
    EXPECT_EQ(json.at("files").at(name), Sha256FileHex(dir + "/" + name)) << name;
  }
  EXPECT_EQ(ReadFile(Output() + "/latest"), "step-3\n");
  EXPECT_EQ(testing::ListNames(Output()), (std::vector<std::string>{"latest", "step-3"}));  // no temp left
  EXPECT_TRUE(VerifyCheckpoint(dir).empty()) << JoinProblems(VerifyCheckpoint(dir));
}

TEST_F(CheckpointManagerTest, LoadRestoresWeightsBitExactlyAndTheState) {
  TinySetup saved = MakeTinySetup(1);
  testing::TrainOneStep(saved, 1);
  CheckpointManager manager(Output(), 0);
  const TrainerState expected = MakeState(5);
  const std::string dir = manager.Save(5, *saved.model, *saved.tokenizer, *saved.optimizer, expected, kYaml);

  TinySetup fresh = MakeTinySetup(99);
  ASSERT_FALSE(testing::WeightsBitEqual(*saved.model, *fresh.model));
  const TrainerState state = manager.Load(dir, *fresh.model, *fresh.optimizer);
  EXPECT_TRUE(testing::WeightsBitEqual(*saved.model, *fresh.model));
  EXPECT_EQ(state, expected);
  EXPECT_EQ(state.step, 5);
  EXPECT_EQ(state.sampler.step_in_epoch, 0);
  EXPECT_EQ(state.config_hash, "cfg-5");
  EXPECT_EQ(state.world_size, 4);
  EXPECT_EQ(state.tokens_seen, 5017);
  EXPECT_EQ(state.pairs_seen, 40);
  EXPECT_EQ(state.skipped_steps, 3);
  EXPECT_EQ(state.consecutive_skipped_steps, 1);
  EXPECT_EQ(state.extra.at("note"), "test");
  EXPECT_EQ(state.torch_rng_state, expected.torch_rng_state);
}

TEST_F(CheckpointManagerTest, AdamWStateRoundTripsAndTheNextStepMatchesBitExactly) {
  TinySetup saved = MakeTinySetup(1);
  testing::TrainOneStep(saved, 1);
  testing::TrainOneStep(saved, 2);
  CheckpointManager manager(Output(), 0);
  const std::string dir = Save(manager, saved, 2);

  TinySetup fresh = MakeTinySetup(7);
  manager.Load(dir, *fresh.model, *fresh.optimizer);
  const auto saved_params = saved.model->module().parameters();
  const auto fresh_params = fresh.model->module().parameters();
  ASSERT_EQ(saved_params.size(), fresh_params.size());
  for (size_t i = 0; i < saved_params.size(); ++i) {
    const auto key = [](const at::Tensor& p) { return static_cast<void*>(p.unsafeGetTensorImpl()); };
    ASSERT_EQ(fresh.optimizer->state().count(key(fresh_params[i])), 1u) << "parameter " << i;
    const auto& a = static_cast<const torch::optim::AdamWParamState&>(*saved.optimizer->state().at(key(saved_params[i])));
    const auto& b = static_cast<const torch::optim::AdamWParamState&>(*fresh.optimizer->state().at(key(fresh_params[i])));
    EXPECT_EQ(b.step(), 2) << "parameter " << i;
    EXPECT_EQ(a.step(), b.step()) << "parameter " << i;
    EXPECT_TRUE(testing::TensorsBitEqual(a.exp_avg(), b.exp_avg())) << "parameter " << i;
    EXPECT_TRUE(testing::TensorsBitEqual(a.exp_avg_sq(), b.exp_avg_sq())) << "parameter " << i;
  }
  testing::TrainOneStep(saved, 3);
  testing::TrainOneStep(fresh, 3);
  EXPECT_TRUE(testing::WeightsBitEqual(*saved.model, *fresh.model));
  // A fresh optimizer (no moments) would diverge: the comparison above is meaningful.
  TinySetup no_state = MakeTinySetup(7);
  no_state.model->LoadHfStateDict(ReadSafetensors(dir + "/model.safetensors").tensors, dir);
  testing::TrainOneStep(no_state, 3);
  EXPECT_FALSE(testing::WeightsBitEqual(*saved.model, *no_state.model));
}

TEST_F(CheckpointManagerTest, LatestPointsToTheNewestSave) {
  TinySetup setup = MakeTinySetup(1);
  CheckpointManager manager(Output(), 0);
  for (int64_t step : {10, 20, 30}) {
    Save(manager, setup, step);
    EXPECT_EQ(ReadFile(Output() + "/latest"), "step-" + std::to_string(step) + "\n");
  }
  EXPECT_EQ(manager.FindResumeCheckpoint("auto"), Output() + "/step-30");
  EXPECT_EQ(StepNames(), (std::vector<std::string>{"step-10", "step-20", "step-30"}));
}

TEST_F(CheckpointManagerTest, RetentionKeepsExactlyTheLastK) {
  struct Case {
    int limit;
    std::vector<std::string> kept;
  };
  const std::vector<Case> cases = {
      {0, {"step-1", "step-2", "step-3", "step-4", "step-5"}},
      {1, {"step-5"}},
      {2, {"step-4", "step-5"}},
      {3, {"step-3", "step-4", "step-5"}},
      {9, {"step-1", "step-2", "step-3", "step-4", "step-5"}},
  };
  TinySetup setup = MakeTinySetup(1);
  for (const Case& c : cases) {
    fs::remove_all(Output());
    CheckpointManager manager(Output(), c.limit);
    for (int64_t step = 1; step <= 5; ++step) Save(manager, setup, step);
    EXPECT_EQ(StepNames(), c.kept) << "limit " << c.limit;
    for (const std::string& name : testing::ListNames(Output())) {
      EXPECT_NE(name.rfind(kTempPrefix, 0), 0u) << "limit " << c.limit << ": " << name;
    }
  }
}

TEST_F(CheckpointManagerTest, RetentionNeverDeletesTheCheckpointJustWritten) {
  TinySetup setup = MakeTinySetup(1);
  CheckpointManager manager(Output(), 1);
  Save(manager, setup, 6);
  Save(manager, setup, 3);  // e.g. after resuming from an older checkpoint
  EXPECT_EQ(StepNames(), (std::vector<std::string>{"step-3"}));
  EXPECT_EQ(ReadFile(Output() + "/latest"), "step-3\n");
}

TEST_F(CheckpointManagerTest, SavingAnExistingStepReplacesItCompletely) {
  TinySetup first = MakeTinySetup(1);
  TinySetup second = MakeTinySetup(2);
  CheckpointManager manager(Output(), 0);
  Save(manager, first, 4);
  const std::string dir = Save(manager, second, 4);
  EXPECT_TRUE(VerifyCheckpoint(dir).empty()) << JoinProblems(VerifyCheckpoint(dir));
  TinySetup loaded = MakeTinySetup(3);
  manager.Load(dir, *loaded.model, *loaded.optimizer);
  EXPECT_TRUE(testing::WeightsBitEqual(*loaded.model, *second.model));
  EXPECT_EQ(testing::ListNames(Output()), (std::vector<std::string>{"latest", "step-4"}));
}

TEST_F(CheckpointManagerTest, ConstructionRemovesStaleTempDirectoriesOnly) {
  fs::create_directories(Output() + "/.tmp-step-7-aB3xYz/nested");
  fs::create_directories(Output() + "/.tmp-step-2-old-Qw12rt");
  WriteFileAtomically(Output() + "/.tmp-step-7-aB3xYz/model.safetensors", "partial");
  fs::create_directories(Output() + "/notes");
  fs::create_directories(Output() + "/step-1");
  WriteFileAtomically(Output() + "/metrics.jsonl", "{}\n");
  CheckpointManager manager(Output(), 0);
  EXPECT_EQ(testing::ListNames(Output()), (std::vector<std::string>{"metrics.jsonl", "notes", "step-1"}));
}

TEST_F(CheckpointManagerTest, ConstructionAcceptsAMissingOutputDirAndRejectsNegativeLimit) {
  CheckpointManager manager(Output(), 2);
  EXPECT_FALSE(fs::exists(Output()));
  EXPECT_EQ(manager.FindResumeCheckpoint("auto"), std::nullopt);
  try {
    CheckpointManager bad(Output(), -1);
    FAIL() << "negative limit accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
}

TEST_F(CheckpointManagerTest, SaveRejectsAStepThatDisagreesWithTheState) {
  TinySetup setup = MakeTinySetup(1);
  CheckpointManager manager(Output(), 0);
  try {
    manager.Save(8, *setup.model, *setup.tokenizer, *setup.optimizer, MakeState(7), kYaml);
    FAIL() << "mismatched step accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("8"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(Output() + "/step-8"));
}

TEST_F(CheckpointManagerTest, StagedShardsAreMovedInListedAndVerified) {
  TinySetup setup = MakeTinySetup(1);
  CheckpointManager manager(Output(), 0);
  const std::string staging = temp_.File("staging");
  fs::create_directories(staging);
  std::vector<CheckpointManager::StagedFile> staged;
  for (const std::string name : {"optimizer-shard-00000-of-00002.pt", "optimizer-shard-00001-of-00002.pt"}) {
    WriteFileAtomically(staging + "/" + name, "state of " + name);
    staged.push_back({staging + "/" + name, Sha256FileHex(staging + "/" + name)});
  }
  const std::string dir = manager.Save(4, *setup.model, *setup.tokenizer, staged, MakeState(4), kYaml);
  EXPECT_FALSE(fs::exists(staging));  // emptied, then removed
  const TrainerState state = ReadCheckpointState(dir);
  EXPECT_EQ(state.optimizer_files,
            (std::vector<std::string>{"optimizer-shard-00000-of-00002.pt", "optimizer-shard-00001-of-00002.pt"}));
  EXPECT_TRUE(VerifyCheckpoint(dir).empty()) << JoinProblems(VerifyCheckpoint(dir));
  // The whole-optimizer Load refuses sharded state rather than loading a part of it.
  TinySetup fresh = MakeTinySetup(2);
  try {
    manager.Load(dir, *fresh.model, *fresh.optimizer);
    FAIL() << "sharded optimizer state loaded as a whole";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("the optimizer state is sharded (2 files)"), std::string::npos) << e.what();
  }
  // A shard lost afterwards makes the checkpoint invalid, naming it.
  fs::remove(dir + "/optimizer-shard-00001-of-00002.pt");
  EXPECT_NE(JoinProblems(VerifyCheckpoint(dir)).find("optimizer-shard-00001-of-00002.pt: missing"), std::string::npos)
      << JoinProblems(VerifyCheckpoint(dir));
}

TEST_F(CheckpointManagerTest, AShardThatChangedAfterItsWriterHashedItIsNotCommitted) {
  TinySetup setup = MakeTinySetup(1);
  CheckpointManager manager(Output(), 0);
  Save(manager, setup, 2);
  const std::string shard = temp_.File("optimizer-shard-00000-of-00001.pt");
  WriteFileAtomically(shard, "as written");
  const std::string digest = Sha256FileHex(shard);
  WriteFileAtomically(shard, "changed on the way");
  try {
    manager.Save(4, *setup.model, *setup.tokenizer, {{shard, digest}}, MakeState(4), kYaml);
    FAIL() << "a shard with another digest was committed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("differs from the " + digest + " its writer computed"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(Output() + "/step-4"));
  EXPECT_EQ(ReadFile(Output() + "/latest"), "step-2\n");
}

}  // namespace
}  // namespace dpo
