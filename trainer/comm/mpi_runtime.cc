// MPI initialisation, rank discovery and job-wide abort.
#include "trainer/comm/mpi_runtime.h"

#include <mpi.h>

#include <cstdlib>
#include <string>

#include "core/common/error.h"

namespace dpo {

bool MpiRuntime::LaunchedByMpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int provided = MPI_THREAD_SINGLE;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    throw Error(ErrorKind::kInternal, "MPI_Init_thread failed");
  }
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error(ErrorKind::kInternal, "this MPI library gives thread level " + std::to_string(provided) +
                                          "; dpo-train needs MPI_THREAD_FUNNELED (" +
                                          std::to_string(MPI_THREAD_FUNNELED) + ")");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  if (const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) local_rank_ = std::atoi(local);
}

MpiRuntime::~MpiRuntime() { MPI_Finalize(); }

void MpiRuntime::Abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace dpo
