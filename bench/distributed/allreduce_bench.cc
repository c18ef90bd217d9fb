// dpo-bench-allreduce: bandwidth of MpiCommunicator::AllReduceSum against a raw in-place
// MPI_Allreduce of the same buffer, at sizes from 64 KiB to 64 MiB. Run under mpirun:
//   mpirun -np 2 --bind-to none build/bin/dpo-bench-allreduce [--repeats R] [--bucket-mb B]
// Reports, per size, the median time of R calls and the algorithm bandwidth (bytes / time) of
// each, and their ratio. The communicator's input is what the trainer passes: 8 parameters'
// gradients of 1/8 of the size each, laid out as bucket views (AssignBucketViewGradients).
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "trainer/comm/mpi_communicator.h"
#include "trainer/comm/mpi_runtime.h"

namespace {


double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Body>
double MedianSeconds(int repeats, Body body) {
  body();  // warm-up
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = dpo::Clock::now();
    body();
    seconds.push_back(dpo::SecondsSince(start));
  }
  // Every rank reports the slowest rank's median.
  double median = Median(seconds);
  MPI_Allreduce(MPI_IN_PLACE, &median, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return median;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 20;
  double bucket_mb = 25;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--bucket-mb") == 0) bucket_mb = std::stod(argv[i + 1]);
  }
  dpo::MpiRuntime mpi(&argc, &argv);
  torch::set_num_threads(1);
  dpo::MpiCommunicator communicator(nullptr, static_cast<int64_t>(bucket_mb * 1024 * 1024));
  if (mpi.rank() == 0) {
    std::printf("all-reduce, %d ranks, float32, bucket %.0f MiB, median of %d\n", mpi.world_size(), bucket_mb, repeats);
    std::printf("%10s %12s %12s %12s %12s %8s\n", "size", "raw ms", "raw GB/s", "comm ms", "comm GB/s", "ratio");
  }
  for (int64_t bytes = 64 * 1024; bytes <= 64 * 1024 * 1024; bytes *= 4) {
    const int64_t elements = bytes / 4;
    std::vector<float> raw(static_cast<size_t>(elements), 1.0f);
    const double raw_seconds = MedianSeconds(repeats, [&] {
      MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(elements), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
    std::vector<at::Tensor> parameters;
    for (int piece = 0; piece < 8; ++piece) parameters.push_back(torch::ones({elements / 8}, torch::requires_grad()));
    dpo::AssignBucketViewGradients(parameters, static_cast<int64_t>(bucket_mb * 1024 * 1024));
    std::vector<at::Tensor> gradients;
    for (const auto& parameter : parameters) gradients.push_back(parameter.grad());
    const double comm_seconds = MedianSeconds(repeats, [&] { communicator.AllReduceSum(gradients); });
    if (mpi.rank() == 0) {
      std::printf("%8.0f K %12.3f %12.2f %12.3f %12.2f %8.2f\n", static_cast<double>(bytes) / 1024, raw_seconds * 1e3,
                  static_cast<double>(bytes) / raw_seconds / 1e9, comm_seconds * 1e3,
                  static_cast<double>(bytes) / comm_seconds / 1e9, raw_seconds / comm_seconds);
    }
  }
  return 0;
}
