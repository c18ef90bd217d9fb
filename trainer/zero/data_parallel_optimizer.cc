// The stage switch.
#include "trainer/zero/data_parallel_optimizer.h"

#include <torch/optim/adamw.h>

#include "core/common/error.h"
#include "trainer/zero/replicated_optimizer.h"
#include "trainer/zero/sharded_optimizer.h"

namespace dpo {

torch::optim::AdamWOptions AdamWOptionsOf(const DataParallelOptions& options) {
  return torch::optim::AdamWOptions(options.learning_rate)
      .betas({options.beta1, options.beta2})
      .eps(options.eps)
      .weight_decay(options.weight_decay);
}

std::unique_ptr<DataParallelOptimizer> MakeDataParallelOptimizer(Communicator& communicator,
                                                                 const std::vector<at::Tensor>& parameters,
                                                                 const DataParallelOptions& options) {
  switch (options.zero_stage) {
    case 0:
      return std::make_unique<ReplicatedOptimizer>(communicator, parameters, options);
    case 1:
    case 2:
      return std::make_unique<ShardedOptimizer>(communicator, parameters, options);
    default:
      throw InvalidInput("distributed.zero_stage: " + std::to_string(options.zero_stage) + " is not 0, 1 or 2");
  }
}

}  // namespace dpo
