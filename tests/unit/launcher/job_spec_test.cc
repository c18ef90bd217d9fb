// LoadJobSpec: the trainer's validation, plus reference.mode=server without an address, which
// only dpo-launch can complete (it starts the server).
#include "launcher/job_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/common/error.h"

namespace dpo {
namespace {

class JobSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "dpo-launch-job-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteJob(const std::string& reference_section) {
    const std::string path = dir_ + "/job.yaml";
    std::ofstream(path) << "model:\n  init: models/policy\ndata:\n  train: train.jsonl\n"
                        << "output:\n  dir: out\n" << reference_section;
    return path;
  }

  std::string InvalidInputMessage(const std::string& path, const std::vector<std::string>& overrides) {
    try {
      LoadJobSpec(path, overrides);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      return e.what();
    }
    ADD_FAILURE() << "the job was accepted";
    return "";
  }

  std::string dir_;
};

TEST_F(JobSpecTest, ServerWithoutAddressIsAcceptedForTheLauncherToComplete) {
  const JobSpec spec = LoadJobSpec(WriteJob("reference:\n  mode: server\n  model: models/sft\n"), {});
  EXPECT_EQ(spec.config_path, dir_ + "/job.yaml");
  EXPECT_EQ(spec.reference_mode, "server");
  EXPECT_EQ(spec.reference_address, "");
  EXPECT_EQ(spec.reference_model, dir_ + "/models/sft");  // resolved against the job's directory
  EXPECT_EQ(spec.model_init, dir_ + "/models/policy");
  EXPECT_EQ(spec.output_dir, dir_ + "/out");
  EXPECT_FALSE(spec.reference_client_security);
}

TEST_F(JobSpecTest, OverridesDecideTheModeAndAreKeptInOrder) {
  const std::vector<std::string> overrides = {"reference.mode=server", "training.max_steps=3"};
  const JobSpec spec = LoadJobSpec(WriteJob(""), overrides);
  EXPECT_EQ(spec.reference_mode, "server");
  EXPECT_EQ(spec.reference_address, "");
  EXPECT_EQ(spec.overrides, overrides);
  EXPECT_EQ(LoadJobSpec(WriteJob("reference:\n  mode: server\n"), {"reference.mode=local"}).reference_mode, "local");
}

TEST_F(JobSpecTest, ServerWithAddressIsTheTrainersJob) {
  const JobSpec spec =
      LoadJobSpec(WriteJob("reference:\n  mode: server\n  address: 10.1.2.3:50051\n  fingerprint: abc\n"), {});
  EXPECT_EQ(spec.reference_mode, "server");
  EXPECT_EQ(spec.reference_address, "10.1.2.3:50051");
  EXPECT_EQ(spec.reference_fingerprint, "abc");
  // A running server's model must be named: the launcher cannot fill the fingerprint in.
  EXPECT_NE(InvalidInputMessage(WriteJob("reference:\n  mode: server\n  address: h:1\n"), {})
                .find("reference.fingerprint: required with reference.mode=server"),
            std::string::npos);
  // With an address the trainer's rules apply unchanged: no reference.model in server mode.
  const std::string message =
      InvalidInputMessage(WriteJob("reference:\n  mode: server\n  address: h:1\n  model: m\n"), {});
  EXPECT_NE(message.find("reference.model: only with reference.mode=local"), std::string::npos) << message;
}

TEST_F(JobSpecTest, ClientSecuritySettingsAreNoticed) {
  EXPECT_TRUE(LoadJobSpec(WriteJob("reference:\n  mode: server\n  auth_token_file: token\n"), {})
                  .reference_client_security);
}

TEST_F(JobSpecTest, EveryTrainerProblemIsReported) {
  const std::string message =
      InvalidInputMessage(WriteJob("reference:\n  mode: server\n  colour: blue\n"), {"training.beta=-1"});
  EXPECT_NE(message.find("reference.colour"), std::string::npos) << message;
  const std::string mode_message = InvalidInputMessage(WriteJob("reference:\n  mode: remote\n"), {});
  EXPECT_NE(mode_message.find("reference.mode=\"remote\" is not supported"), std::string::npos) << mode_message;
}

}  // namespace
}  // namespace dpo
