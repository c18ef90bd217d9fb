#include "job/job_tokenizer.h"

#include "core/tokenizer/tokenizer_files.h"

namespace dpo {

std::shared_ptr<const Tokenizer> JobTokenizer(const JobConfig& config) {
  return config.model.random_init() ? CreateTokenizer(config.tokenizer)
                                       : LoadTokenizerForModel(config.model.init, config.tokenizer);
}

}  // namespace dpo
