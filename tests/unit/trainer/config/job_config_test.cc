// JobConfig: the distributed section and which settings TrainingHash covers.
#include "trainer/config/job_config.h"

#include <gtest/gtest.h>

#include "core/common/error.h"

namespace dpo {
namespace {

const char* kJob = "data:\n  train: train.jsonl\ntraining:\n  per_device_batch_size: 4\n";

JobConfig Parse(const std::vector<std::string>& overrides) { return JobConfig::Parse(kJob, "job.yaml", "/data", overrides); }

std::string ErrorOf(const std::vector<std::string>& overrides) {
  try {
    Parse(overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JobConfigTest, DistributedDefaultsAndOverrides) {
  const JobConfig defaults = Parse({});
  EXPECT_EQ(defaults.distributed.timeout_seconds, 600);
  EXPECT_EQ(defaults.distributed.bucket_mb, 25);
  const JobConfig set = Parse({"distributed.timeout_seconds=30", "distributed.bucket_mb=4"});
  EXPECT_EQ(set.distributed.timeout_seconds, 30);
  EXPECT_EQ(set.distributed.bucket_mb, 4);
  EXPECT_NE(set.ToYaml().find("distributed:\n  timeout_seconds: 30\n  bucket_mb: 4"), std::string::npos) << set.ToYaml();
}

TEST(JobConfigTest, ModelSectionTakesTheConfigJsonFieldsOfItsFamily) {
  const JobConfig llama = Parse({"model.model_type=llama", "model.hidden_size=64", "model.num_key_value_heads=2",
                                 "model.rope_scaling={rope_type: linear, factor: 2.0}", "model.gradient_checkpointing=true"});
  EXPECT_EQ(llama.model.architecture.family(), ModelFamily::kLlama);
  EXPECT_EQ(llama.model.architecture.hidden_size, 64);
  EXPECT_EQ(llama.model.architecture.KvHeads(), 2);
  EXPECT_EQ(llama.model.architecture.rope_scaling.rope_type, "linear");
  EXPECT_EQ(llama.model.architecture.vocab_size, 0);  // the tokenizer's
  EXPECT_TRUE(llama.model.gradient_checkpointing);
  // The printed job reads back as the same job, and checkpointing does not change the math.
  EXPECT_EQ(JobConfig::Parse(llama.ToYaml(), "printed.yaml", "/data", {}).ToYaml(), llama.ToYaml());
  EXPECT_EQ(Parse({"model.model_type=llama", "model.hidden_size=64", "model.num_key_value_heads=2",
                   "model.rope_scaling={rope_type: linear, factor: 2.0}"})
                .TrainingHash(),
            llama.TrainingHash());
  EXPECT_NE(ErrorOf({"model.model_type=llama", "model.n_embd=64"}).find("model.n_embd: unknown field for model_type llama"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"model.init=/models/x", "model.hidden_size=64"})
                .find("model.hidden_size: only allowed with model.init=random (the directory's config.json decides)"),
            std::string::npos);
}

TEST(JobConfigTest, OutputDtypeAndShardSizeAreValidated) {
  EXPECT_EQ(Parse({}).output.save_dtype, "auto");
  EXPECT_EQ(Parse({}).output.max_shard_size_mb, 5000);
  EXPECT_NE(ErrorOf({"output.save_dtype=fp8"})
                .find("output.save_dtype=\"fp8\" is not supported (supported: auto, float32, bfloat16, float16)"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"output.max_shard_size_mb=0"}).find("output.max_shard_size_mb=0 must be >= 1"), std::string::npos);
}

TEST(JobConfigTest, DistributedValuesAreValidated) {
  EXPECT_NE(ErrorOf({"distributed.timeout_seconds=-1"}).find("distributed.timeout_seconds=-1 must be >= 0"), std::string::npos);
  EXPECT_NE(ErrorOf({"distributed.bucket_mb=0"}).find("distributed.bucket_mb=0 must be in (0, 4096]"), std::string::npos);
  EXPECT_NE(ErrorOf({"distributed.ranks=2"}).find("distributed.ranks"), std::string::npos);
}

TEST(JobConfigTest, DeviceAndMixedPrecisionAreValidated) {
  EXPECT_EQ(Parse({}).training.device, "cpu");
  EXPECT_EQ(Parse({"training.device=cuda", "training.mixed_precision=bf16"}).training.mixed_precision, "bf16");
  EXPECT_NE(ErrorOf({"training.device=tpu"}).find("training.device=\"tpu\" is not supported (supported: cpu, cuda)"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"training.mixed_precision=fp8"}).find("training.mixed_precision=\"fp8\" is not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"training.mixed_precision=bf16"}).find("training.mixed_precision=bf16 needs training.device=cuda"),
            std::string::npos);
  // The device does not change the math; mixed precision does.
  const std::string base = Parse({"training.device=cuda"}).TrainingHash();
  EXPECT_EQ(Parse({}).TrainingHash(), base);
  EXPECT_NE(Parse({"training.device=cuda", "training.mixed_precision=bf16"}).TrainingHash(), base);
}

TEST(JobConfigTest, MetricsEndpointAndDriftWarningAreValidated) {
  EXPECT_EQ(Parse({}).metrics.prometheus_listen, "127.0.0.1:0");
  EXPECT_EQ(Parse({"metrics.prometheus_listen=0.0.0.0:9400"}).metrics.prometheus_listen, "0.0.0.0:9400");
  for (const char* bad : {"9400", ":9400", "host:70000", "host:12x", "host:123456"}) {
    EXPECT_NE(ErrorOf({std::string("metrics.prometheus_listen=") + bad}).find("must be HOST:PORT with PORT in [0, 65535]"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(ErrorOf({"metrics.drift_warning_nats=-1"}).find("metrics.drift_warning_nats=-1 must be >= 0"), std::string::npos);
}

TEST(JobConfigTest, ChatTemplateIsReadAndValidated) {
  EXPECT_NE(Parse({"data.chat_template=llama3"}).ToYaml().find("chat_template: llama3"), std::string::npos);
  EXPECT_NE(ErrorOf({"data.chat_template=bogus"}).find("data.chat_template=\"bogus\" must be one of: auto, chatml, llama3, plain"),
            std::string::npos)
      << ErrorOf({"data.chat_template=bogus"});
}

TEST(JobConfigTest, TrainingHashIgnoresHowTheGlobalBatchIsSplitButNotTheMath) {
  const std::string base = Parse({}).TrainingHash();
  EXPECT_EQ(Parse({"training.per_device_batch_size=2", "training.gradient_accumulation_steps=2"}).TrainingHash(), base);
  EXPECT_EQ(Parse({"distributed.timeout_seconds=5", "output.dir=/elsewhere"}).TrainingHash(), base);
  EXPECT_NE(Parse({"training.learning_rate=0.5"}).TrainingHash(), base);
  EXPECT_NE(Parse({"training.seed=7"}).TrainingHash(), base);
}

}  // namespace
}  // namespace dpo
