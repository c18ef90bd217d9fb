// dpo-train: one rank of a DPO job. Started alone it is world size 1; started by mpirun
// (`mpirun -np N dpo-train --config job.yaml`) each process is one rank of N.
//   dpo-train --config job.yaml [--set section.key=value ...] [--print-config] [--dry-run]
// A fatal error on any rank is printed with its rank and ends the whole job with its exit code.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "core/common/error.h"
#include "core/common/run_main.h"
#include "core/common/tensor_memory.h"
#include "job/job_config.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/watchdog.h"
#include "trainer/loop/trainer.h"
#if DPO_WITH_GRPC
#include "trainer/reference/remote/remote_reference_scorer.h"
#endif
#if DPO_WITH_MPI
#include "trainer/comm/mpi_communicator.h"
#include "trainer/comm/mpi_runtime.h"
#endif
#if DPO_WITH_PROMETHEUS
#include "trainer/metrics/prometheus_exporter.h"
#endif
#if DPO_WITH_NCCL
#include "trainer/comm/nccl_communicator.h"
#include "trainer/loop/model_setup.h"
#endif

namespace {

dpo::RemoteReferenceFactory RemoteReference() {
#if DPO_WITH_GRPC
  return [](const dpo::RemoteReferenceOptions& options) -> std::unique_ptr<dpo::ReferenceScorer> {
    return std::make_unique<dpo::RemoteReferenceScorer>(options);
  };
#else
  return {};
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dpo-train: Direct Preference Optimization, one rank"};
  std::string config_path;
  std::vector<std::string> overrides;
  bool print_config = false;
  bool dry_run = false;
  app.add_option("--config", config_path, "job file (YAML)")->required();
  app.add_option("--set", overrides, "override one key: section.key=value (repeatable)");
  app.add_flag("--print-config", print_config, "print the resolved configuration and exit");
  app.add_flag("--dry-run", dry_run, "validate config and data, print the plan, do not train");
  CLI11_PARSE(app, argc, argv);
  dpo::InstallCpuTensorMemoryCounter();  // before any tensor: the training steps' peak is measured exactly

#if DPO_WITH_MPI
  std::unique_ptr<dpo::MpiRuntime> mpi;
  if (dpo::MpiRuntime::LaunchedByMpi()) {
    const int code = dpo::RunMain("dpo-train", [&] {
      mpi = std::make_unique<dpo::MpiRuntime>(&argc, &argv);
      return 0;
    });
    if (code != 0) return code;
  }
  const int world_size = mpi ? mpi->world_size() : 1;
  const std::string program = world_size > 1 ? "dpo-train rank " + std::to_string(mpi->rank()) : "dpo-train";
#else
  const int world_size = 1;
  const std::string program = "dpo-train";
#endif

  const int code = dpo::RunMain(program.c_str(), [&] {
    const dpo::JobConfig config = dpo::JobConfig::Load(config_path, overrides);
    if (print_config) {
      std::cout << config.ToDocumentedYaml();
      return 0;
    }
    dpo::Watchdog watchdog(config.distributed.timeout_seconds, program, "distributed.timeout_seconds");
    const auto bucket_bytes = static_cast<int64_t>(config.distributed.bucket_mb * 1024 * 1024);
    // CPU ranks sum over MPI; CUDA ranks sum tensors over NCCL, bootstrapped by MPI.
    std::unique_ptr<dpo::Communicator> bootstrap;  // outlives the communicator built on it
    std::unique_ptr<dpo::Communicator> communicator = std::make_unique<dpo::SingleProcessCommunicator>();
#if DPO_WITH_MPI
    if (world_size > 1) communicator = std::make_unique<dpo::MpiCommunicator>(&watchdog, bucket_bytes);
#endif
#if DPO_WITH_NCCL
    if (world_size > 1 && config.training.device == dpo::DeviceKind::kCuda) {
      bootstrap = std::move(communicator);
      const int device_index = dpo::TrainingDevice(config.training, bootstrap->local_rank()).index();
      communicator = std::make_unique<dpo::NcclCommunicator>(*bootstrap, device_index, &watchdog, bucket_bytes);
    }
#else
    if (world_size > 1 && config.training.device == dpo::DeviceKind::kCuda) {
      throw dpo::InvalidInput("training.device=cuda with " + std::to_string(world_size) +
                              " ranks needs NCCL: this dpo-train was built without it (a CUDA LibTorch and NCCL)");
    }
#endif
    dpo::TrainerServices services;
    services.remote_reference = RemoteReference();
    services.watchdog = &watchdog;
#if DPO_WITH_PROMETHEUS
    std::unique_ptr<dpo::PrometheusExporter> exporter;
    if (const std::string address = dpo::RankMetricsAddress(config.metrics.prometheus_listen, communicator->local_rank());
        !address.empty() && !dry_run) {
      exporter = std::make_unique<dpo::PrometheusExporter>(address, communicator->rank(), config.training.loss.beta,
                                                           dpo::JobEnumName(config.training.device));
      services.observer = exporter.get();
      std::cerr << program << ": metrics at http://" << address << "/metrics\n";
    }
#endif
    dpo::Trainer trainer(config, *communicator, services);
    if (dry_run) {
      trainer.DryRun(std::cout);
      return 0;
    }
    const int code = trainer.Run();
#if DPO_WITH_PROMETHEUS
    if (exporter && config.metrics.prometheus_linger_seconds > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(config.metrics.prometheus_linger_seconds));
    }
#endif
    return code;
  });
#if DPO_WITH_MPI
  // The other ranks may be blocked in a collective: end them all with this rank's code.
  if (code != 0 && world_size > 1) mpi->Abort(code);
#endif
  (void)world_size;
  return code;
}
