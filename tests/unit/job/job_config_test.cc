// JobConfig and its field table: sections, modes, the printed YAML, and which settings
// TrainingHash covers.
#include "job/job_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/common/error.h"
#include "job/job_fields.h"

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
  EXPECT_NE(ErrorOf({"distributed.zero_stage=3"}).find("distributed.zero_stage=3 must be 0, 1 or 2"), std::string::npos);
  EXPECT_NE(ErrorOf({"distributed.zero_stage=-1"}).find("distributed.zero_stage=-1 must be 0, 1 or 2"), std::string::npos);
  EXPECT_NE(ErrorOf({"distributed.ranks=2"}).find("distributed.ranks"), std::string::npos);
}

TEST(JobConfigTest, DeviceAndMixedPrecisionAreValidated) {
  EXPECT_EQ(Parse({}).training.device, DeviceKind::kCpu);
  EXPECT_EQ(Parse({"training.device=cuda", "training.mixed_precision=bf16"}).training.mixed_precision,
            MixedPrecision::kBf16);
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
  // One kept checkpoint leaves nothing to fall back to when it is damaged.
  EXPECT_NE(ErrorOf({"output.save_total_limit=1"}).find("output.save_total_limit=1 keeps no checkpoint to fall back to"),
            std::string::npos);
  EXPECT_EQ(Parse({"output.save_total_limit=2"}).output.save_total_limit, 2);
  EXPECT_EQ(Parse({"output.save_total_limit=0"}).output.save_total_limit, 0);
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
  // A checkpoint of one ZeRO stage resumes under another.
  EXPECT_EQ(Parse({"distributed.zero_stage=2"}).TrainingHash(), base);
  EXPECT_NE(Parse({"training.learning_rate=0.5"}).TrainingHash(), base);
  EXPECT_NE(Parse({"training.seed=7"}).TrainingHash(), base);
}

TEST(JobConfigTest, TrainingHashIsTheOneEarlierCheckpointsRecorded) {
  // Hashes written by the implementation before the field table (commit 530ccd5, which emitted
  // every key by hand): a checkpoint it wrote must still resume, so the resolved YAML and its
  // hash may not change.
  EXPECT_EQ(JobConfig::Parse("data:\n  train: train.jsonl\n", "job.yaml", "/data", {"training.seed=7"}).TrainingHash(),
            "ec6945a61a3ebfdc8c2883a554be0dac0e3a729b63d60647473882b49685ba70");
  // Every key away from its default, those outside the hash included.
  const char* every_key =
      "model:\n  init: random\n  seed: 5\n  log_prob_chunk_tokens: 64\n  gradient_checkpointing: true\n  n_embd: 32\n"
      "  n_layer: 2\n  n_head: 2\n"
      "data:\n  train: t.jsonl\n  eval: e.jsonl\n  max_length: 128\n  max_prompt_length: 64\n  truncation_mode: keep_start\n"
      "  on_bad_row: skip\n  max_reported_problems: 3\n  chat_template: plain\n"
      "training:\n  loss_type: [ipo, sft]\n  loss_weights: [1, 0.5]\n  beta: 0.2\n  label_smoothing: 0.1\n  simpo_gamma: 0.7\n"
      "  discopop_tau: 0.1\n  rpo_alpha: 0.3\n  learning_rate: 0.001\n  max_steps: 9\n  epochs: 2\n  per_device_batch_size: 3\n"
      "  gradient_accumulation_steps: 4\n  max_grad_norm: 0.5\n  warmup_steps: 2\n  lr_scheduler: constant\n"
      "  weight_decay: 0.01\n  adam_beta1: 0.8\n  adam_beta2: 0.99\n  adam_epsilon: 1e-6\n  seed: 11\n  threads: 2\n"
      "  device: cuda\n  mixed_precision: bf16\n  logging_steps: 3\n  eval_steps: 4\n  max_consecutive_skipped_steps: 2\n"
      "reference:\n  mode: server\n  precompute: true\n  address: h:1\n  fingerprint: abc\n  timeout_seconds: 5\n"
      "  retry_budget_seconds: 6\n  prefetch: 1\n"
      "output:\n  dir: o\n  save_steps: 3\n  save_total_limit: 2\n  resume: never\n  save_dtype: float16\n"
      "  max_shard_size_mb: 7\n"
      "metrics:\n  progress: never\n  prometheus_listen: 0.0.0.0:9\n  prometheus_linger_seconds: 1\n  drift_warning_nats: 2\n"
      "distributed:\n  timeout_seconds: 9\n  bucket_mb: 3\n  overlap: true\n  zero_stage: 1\n";
  EXPECT_EQ(JobConfig::Parse(every_key, "job.yaml", "/data", {}).TrainingHash(),
            "22ffb897ac7a35742f2eecfc81e6a7f51425c83806e034648922a5b06e09fd04");
}

TEST(JobConfigTest, EveryFieldOfTheTableIsReadWrittenAndReadBack) {
  std::vector<std::string> seen;
  for (const JobField& field : JobFields()) {
    const std::string name = std::string(field.section) + "." + field.key;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), name), 0) << name << " is declared twice";
    seen.push_back(name);
    EXPECT_EQ(FindJobField(field.section, field.key), &field) << name;
    const std::vector<std::string>& sections = JobSections();
    EXPECT_NE(std::find(sections.begin(), sections.end(), field.section), sections.end()) << name;
    EXPECT_NE(std::string(field.doc), "") << name;
  }
  // Non-default values everywhere the checks allow, written out and parsed again.
  const JobConfig changed = Parse({"model.seed=3", "model.log_prob_chunk_tokens=64", "model.gradient_checkpointing=true",
                                   "data.eval=eval.jsonl", "data.truncation_mode=keep_start", "data.on_bad_row=skip",
                                   "training.loss_type=[ipo, sft]", "training.loss_weights=[1, 0.5]",
                                   "training.lr_scheduler=cosine", "training.device=cuda",
                                   "training.mixed_precision=bf16", "reference.mode=server",
                                   "reference.address=host:1", "reference.fingerprint=abc", "reference.prefetch=9",
                                   "output.save_dtype=bfloat16",
                                   "metrics.progress=never", "distributed.overlap=true"});
  const JobConfig again = JobConfig::Parse(changed.ToYaml(), "printed.yaml", "/elsewhere", {});
  EXPECT_EQ(again.ToYaml(), changed.ToYaml());
  // --set paths resolve against the working directory; once absolute they are not re-based.
  EXPECT_TRUE(std::filesystem::path(changed.data_eval).is_absolute()) << changed.data_eval;
  EXPECT_EQ(again.data_eval, changed.data_eval);
  EXPECT_EQ(again.training.lr_scheduler, LrSchedulerKind::kCosine);
  EXPECT_EQ(again.reference.mode, ReferenceMode::kServer);
  EXPECT_EQ(again.reference.server.prefetch_window, 9);
  EXPECT_EQ(again.metrics.progress, ProgressMode::kNever);
  EXPECT_EQ(again.model.log_probs.chunk_tokens, 64);
  EXPECT_NE(again.TrainingHash(), Parse({}).TrainingHash());
}

TEST(JobConfigTest, ModesAreReadByName) {
  EXPECT_NE(ErrorOf({"reference.mode=remote"}).find("reference.mode=\"remote\" is not supported (supported: local, server)"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"metrics.progress=sometimes"})
                .find("metrics.progress=\"sometimes\" is not supported (supported: auto, always, never)"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"training.lr_scheduler=step"}).find("training.lr_scheduler=\"step\" is not supported"),
            std::string::npos);
  EXPECT_EQ(JobEnumName(Parse({"metrics.progress=always"}).metrics.progress), std::string("always"));
}

}  // namespace
}  // namespace dpo
