// VerifyCheckpoint and FindResumeCheckpoint: corruption is detected and named, auto-resume
// falls back past bad checkpoints, explicit paths must verify, "never" never resumes.
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
#include "trainer/checkpoint/checkpoint_manager.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using testing::MakeState;
using testing::TempDir;
using testing::TinySetup;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Saves steps 1 and 2 (different weights) and collects the manager's warnings.
class CheckpointResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setup_ = testing::MakeTinySetup(1);
    manager_ = std::make_unique<CheckpointManager>(
        Output(), 0, [this](const std::string& message) { warnings_.push_back(message); });
    for (int64_t step : {1, 2}) {
      testing::TrainOneStep(setup_, step);
      manager_->Save(step, *setup_.model, *setup_.tokenizer, *setup_.optimizer, MakeState(step), "job: 1\n");
    }
  }
  std::string Output() const { return temp_.File("out"); }
  std::string Step(int64_t step) const { return Output() + "/step-" + std::to_string(step); }
  std::string AllWarnings() const {
    std::string all;
    for (const auto& warning : warnings_) all += warning + "\n";
    return all;
  }

  TempDir temp_;
  TinySetup setup_;
  std::vector<std::string> warnings_;
  std::unique_ptr<CheckpointManager> manager_;
};

TEST_F(CheckpointResumeTest, FlippedByteIsDetectedWithTheFileAndBothDigests) {
  for (const char* name : {"model.safetensors", "optimizer.pt", "job.yaml", "config.json"}) {
    const std::string dir = Step(2);
    const std::string path = dir + "/" + std::string(name);
    const std::string good_digest = Sha256FileHex(path);
    const std::string original = ReadFile(path);
    testing::FlipByte(path);
    const std::string bad_digest = Sha256FileHex(path);
    const auto problems = VerifyCheckpoint(dir);
    ASSERT_EQ(problems.size(), 1u) << name << ": " << JoinProblems(problems);
    EXPECT_TRUE(Contains(problems[0], path + ": checksum mismatch")) << problems[0];
    EXPECT_TRUE(Contains(problems[0], good_digest)) << problems[0];
    EXPECT_TRUE(Contains(problems[0], bad_digest)) << problems[0];
    WriteFileAtomically(path, original);
    EXPECT_TRUE(VerifyCheckpoint(dir).empty()) << name;
  }
}

TEST_F(CheckpointResumeTest, VerifyReportsMissingFilesAndBadState) {
  fs::remove(Step(2) + "/optimizer.pt");
  auto problems = VerifyCheckpoint(Step(2));
  ASSERT_EQ(problems.size(), 1u) << JoinProblems(problems);
  EXPECT_EQ(problems[0], Step(2) + "/optimizer.pt: missing");

  const std::string state_path = Step(1) + "/trainer_state.json";
  auto json = nlohmann::json::parse(ReadFile(state_path));
  json["files"].erase("job.yaml");
  WriteFileAtomically(state_path, json.dump());
  problems = VerifyCheckpoint(Step(1));
  ASSERT_EQ(problems.size(), 1u) << JoinProblems(problems);
  EXPECT_TRUE(Contains(problems[0], "no checksum for job.yaml")) << problems[0];

  json["files"]["job.yaml"] = Sha256FileHex(Step(1) + "/job.yaml");
  json["step"] = 9;
  WriteFileAtomically(state_path, json.dump());
  problems = VerifyCheckpoint(Step(1));
  ASSERT_EQ(problems.size(), 1u) << JoinProblems(problems);
  EXPECT_TRUE(Contains(problems[0], "\"step\": 9 disagrees with the directory name step-1")) << problems[0];

  WriteFileAtomically(state_path, "{\"step\": ");
  problems = VerifyCheckpoint(Step(1));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(Contains(problems[0], state_path + ": invalid JSON")) << problems[0];

  EXPECT_EQ(VerifyCheckpoint(Output() + "/step-77"), std::vector<std::string>{Output() + "/step-77: not a directory (missing)"});
}

TEST_F(CheckpointResumeTest, AutoPicksLatestWhenItVerifies) {
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), Step(2));
  EXPECT_TRUE(warnings_.empty()) << AllWarnings();
}

TEST_F(CheckpointResumeTest, AutoFallsBackWhenTheNewestIsCorrupt) {
  testing::FlipByte(Step(2) + "/model.safetensors");
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), Step(1));
  ASSERT_EQ(warnings_.size(), 1u) << AllWarnings();
  EXPECT_TRUE(Contains(warnings_[0], Step(2) + "/model.safetensors: checksum mismatch")) << warnings_[0];
}

TEST_F(CheckpointResumeTest, AutoFallsBackWhenLatestNamesAMissingDirectory) {
  fs::remove_all(Step(2));
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), Step(1));
  ASSERT_EQ(warnings_.size(), 1u) << AllWarnings();
  EXPECT_TRUE(Contains(warnings_[0], "names step-2, which does not exist")) << warnings_[0];
}

TEST_F(CheckpointResumeTest, AutoIgnoresAGarbledOrMissingLatestPointer) {
  WriteFileAtomically(Output() + "/latest", "../../etc\n");
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), Step(2));
  ASSERT_EQ(warnings_.size(), 1u) << AllWarnings();
  EXPECT_TRUE(Contains(warnings_[0], "expected \"step-<N>\", found \"../../etc\"")) << warnings_[0];
  fs::remove(Output() + "/latest");
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), Step(2));
  EXPECT_EQ(warnings_.size(), 1u) << AllWarnings();
}

TEST_F(CheckpointResumeTest, AutoThrowsNoCheckpointWhenNoneVerifiesListingEach) {
  testing::FlipByte(Step(2) + "/optimizer.pt");
  fs::remove(Step(1) + "/trainer_state.json");
  try {
    manager_->FindResumeCheckpoint("auto");
    FAIL() << "a corrupt checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNoCheckpoint);
    EXPECT_EQ(e.exit_code(), 5);
    EXPECT_TRUE(Contains(e.what(), Step(2) + "/optimizer.pt: checksum mismatch")) << e.what();
    EXPECT_TRUE(Contains(e.what(), Step(1) + "/trainer_state.json: missing")) << e.what();
  }
  EXPECT_EQ(warnings_.size(), 2u) << AllWarnings();
}

TEST_F(CheckpointResumeTest, AutoWithoutAnyCheckpointStartsFresh) {
  fs::remove_all(Step(1));
  fs::remove_all(Step(2));
  EXPECT_EQ(manager_->FindResumeCheckpoint("auto"), std::nullopt);
}

TEST_F(CheckpointResumeTest, ExplicitPathMustVerify) {
  EXPECT_EQ(manager_->FindResumeCheckpoint(Step(1)), Step(1));
  testing::FlipByte(Step(1) + "/model.safetensors");
  for (const std::string& path : {Step(1), Output() + "/does-not-exist"}) {
    try {
      manager_->FindResumeCheckpoint(path);
      FAIL() << path << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNoCheckpoint);
      EXPECT_TRUE(Contains(e.what(), "resume checkpoint " + path + " is not valid")) << e.what();
    }
  }
  try {
    manager_->FindResumeCheckpoint(Step(1));
  } catch (const Error& e) {
    EXPECT_TRUE(Contains(e.what(), "model.safetensors: checksum mismatch")) << e.what();
  }
}

TEST_F(CheckpointResumeTest, NeverDoesNotResumeAndEmptyIsAnError) {
  EXPECT_EQ(manager_->FindResumeCheckpoint("never"), std::nullopt);
  EXPECT_THROW(manager_->FindResumeCheckpoint(""), Error);
}

TEST_F(CheckpointResumeTest, LoadRefusesACorruptCheckpoint) {
  testing::FlipByte(Step(2) + "/optimizer.pt", 0.9);
  TinySetup fresh = testing::MakeTinySetup(5);
  const auto before = fresh.model->HfStateDict();
  try {
    manager_->Load(Step(2), *fresh.model, *fresh.optimizer);
    FAIL() << "corrupt checkpoint loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNoCheckpoint);
    EXPECT_TRUE(Contains(e.what(), "optimizer.pt: checksum mismatch")) << e.what();
  }
  EXPECT_TRUE(testing::TensorsBitEqual(before[0].tensor, fresh.model->HfStateDict()[0].tensor));
}

}  // namespace
}  // namespace dpo
