// The tokenizer a job trains with, chosen in one place for dpo-train and for the reference
// server's precompute (which must tokenise the job's data exactly as training will).
#pragma once

#include <memory>

#include "core/tokenizer/tokenizer.h"
#include "job/job_config.h"

namespace dpo {

// model.init=random: `tokenizer` (CreateTokenizer's spec). Otherwise the tokenizer the model
// directory records (LoadTokenizerForModel), with `tokenizer` as the fallback for a directory
// that records none. Throws Error(kInvalidInput) naming the file or spec it could not use.
std::shared_ptr<const Tokenizer> JobTokenizer(const JobConfig& config);

}  // namespace dpo
