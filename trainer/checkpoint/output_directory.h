// The output directory before a run starts (rank 0): writable, and never a place where an older
// run's checkpoints could later be mistaken for this run's.
#pragma once

#include "job/job_config.h"

namespace dpo {

// Creates output.dir and checks that a file can be written in it; with output.resume=never,
// refuses a directory that already holds a run (step-<N> checkpoints, `latest` or final/) unless
// output.overwrite is set, which removes that run first (its checkpoints, latest, final/,
// metrics.jsonl and the rejects files). Throws Error(kInvalidInput) naming output.dir and why.
void PrepareOutputDirectory(const OutputSection& output);

}  // namespace dpo
