// Running dpo-train under mpirun from tests, and comparing what two runs wrote.
#pragma once

#include <string>
#include <vector>

namespace dpo::testing {

// `mpirun -np <ranks>` with the flags a 2-core test machine needs (oversubscription, no
// binding, root allowed, the thread and fault-injection variables passed on), then `program`
// (MPMD programs are separated by ":" inside it).
std::vector<std::string> Mpirun(int ranks, const std::vector<std::string>& program);

// Single-threaded BLAS/OpenMP per rank, and DPO_FAULT_INJECT=`fault` (empty: none).
std::vector<std::string> MpiEnv(const std::string& fault = "");

// Largest |a - b| / max|a| over the tensors of two saved models.
double MaxRelativeDifference(const std::string& a_dir, const std::string& b_dir);
// Largest |a - b| over the tensors of two saved models.
double MaxAbsoluteDifference(const std::string& a_dir, const std::string& b_dir);

}  // namespace dpo::testing
