// dpo-reference-server: serves dpo.v1.ReferenceModel, or fills its cache from a job's data.
//   dpo-reference-server --model DIR [--listen HOST:PORT] [--cache-dir DIR] [--config server.yaml] ...
//   dpo-reference-server precompute --model DIR --config job.yaml [--cache-dir DIR] [--set k=v]
#include <iostream>

#include "core/common/run_main.h"
#include "reference_server/app/precompute.h"
#include "reference_server/app/server_config.h"
#include "reference_server/app/stop_signals.h"
#include "reference_server/engine/server_memory.h"
#include "reference_server/server/reference_server.h"

namespace {

int Precompute(const dpo::PrecomputeOptions& options) {
  const dpo::PrecomputeReport report = dpo::RunPrecompute(options, std::cerr);
  std::cout << "precompute: " << report.pairs << " pairs, " << report.sequences << " sequences: " << report.computed
            << " computed, " << report.from_cache << " already cached; " << report.rows_dropped
            << " rows dropped by the data pipeline; cache " << options.server.cache_dir << " holds "
            << report.cache_entries << " records; " << report.seconds << " s" << std::endl;
  return 0;
}

int Serve(const dpo::ServerOptions& options) {
  dpo::BlockStopSignals();  // before the first thread: gRPC's and LibTorch's threads inherit it
  dpo::ReferenceServer server(options);
  server.Start();
  // One line each on stdout, flushed: launchers and tests read the bound addresses from here.
  std::cout << "listening on " << server.listen_address() << std::endl;
  if (!server.health_address().empty()) std::cout << "health probes on " << server.health_address() << std::endl;
  if (!server.metrics_address().empty()) std::cout << "metrics on http://" << server.metrics_address() << "/metrics" << std::endl;
  server.LoadModel();
  std::cerr << "dpo-reference-server " << dpo::ServerVersion() << ": serving " << options.model_dir << " (fingerprint "
            << server.fingerprint() << ")" << std::endl;
  const int signal_number = dpo::WaitForStopSignal();
  std::cerr << "dpo-reference-server: signal " << signal_number << ": draining" << std::endl;
  server.Shutdown();
  std::cerr << "dpo-reference-server: drained, cache synced" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const dpo::CommandLine command = dpo::ParseCommandLine(argc, argv, std::cout, std::cerr);
  if (command.mode == dpo::CommandLine::Mode::kExit) return command.exit_code;
  // Before the model is loaded: the allocator and malloc settings that keep the RSS bounded.
  dpo::ConfigureServerMemory();
  return dpo::RunMain("dpo-reference-server", [&] {
    return command.mode == dpo::CommandLine::Mode::kPrecompute ? Precompute(command.precompute) : Serve(command.server);
  });
}
