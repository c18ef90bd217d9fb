// MpiRuntime: MPI's lifetime in a process started by mpirun (or any launcher that sets the
// OpenMPI / PMIx rank variables). MPI is initialised with MPI_THREAD_FUNNELED: only the thread
// that created the runtime makes MPI calls. A process started without such a launcher never
// initialises MPI and runs as world size 1.
#pragma once

namespace dpo {

class MpiRuntime {
 public:
  // True when the environment says this process is one rank of an MPI job
  // (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK is set).
  static bool LaunchedByMpi();

  // MPI_Init_thread(FUNNELED). Throws Error(kInternal) when MPI cannot give that thread level.
  // At most one per process.
  MpiRuntime(int* argc, char*** argv);
  // MPI_Finalize (after every rank has finished its collectives).
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  // Rank among the processes of this host (OMPI_COMM_WORLD_LOCAL_RANK; 0 when unknown): which
  // GPU this rank drives.
  int local_rank() const { return local_rank_; }

  // Ends every rank of the job with `exit_code` (MPI_Abort on MPI_COMM_WORLD). Call from the
  // MPI thread only.
  [[noreturn]] void Abort(int exit_code);

 private:
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
};

}  // namespace dpo
