// Crash-test hook: kills, fails or stalls the process at a named point when the environment asks
// for it, so tests can check that an interrupted checkpoint never damages the previous one and
// that a failing or hanging rank ends the whole job.
#pragma once

#include <cstdint>
#include <string_view>

namespace dpo {

// The environment variable read by MaybeInjectFault; its value is "<point>:<step>".
inline constexpr const char* kFaultInjectEnv = "DPO_FAULT_INJECT";

// If DPO_FAULT_INJECT equals "<point>:<step>" (e.g. "checkpoint.before_rename:20"), acts by the
// point's last component: "throw" throws Error(kInternal, "injected fault at <point>:<step>");
// "unavailable" throws Error(kReferenceUnavailable, ...) (a reference that cannot be reached);
// "hang" blocks the calling thread forever; anything else calls raise(SIGKILL): the process dies
// at once, as on a power cut or an OOM kill, with no unwinding. Otherwise does nothing. Reads the environment on every call (calls are rare: a few per
// checkpoint). Points used by CheckpointManager::Save:
//   checkpoint.after_weights  model files written into the temp dir, optimizer not yet
//   checkpoint.before_rename  temp dir complete and synced, not yet renamed to step-<N>
//   checkpoint.after_rename   step-<N> in place, the `latest` pointer not yet updated
// and by SaveOnEveryRank (collective_save.h), before rank R writes its optimizer files:
//   checkpoint.rank<R>.throw
// Points used by the training loop, before the gradient all-reduce of step <N> (1-based):
//   rank<R>.throw, rank<R>.hang, rank<R>.kill   on rank R only
// and in its first micro-batch, where reference log-probs are fetched:
//   rank<R>.reference.unavailable               rank R's reference fails (exit 3 after a checkpoint)
// A build without DPO_WITH_TEST_HOOKS (the images) never reads the variable.
void MaybeInjectFault(std::string_view point, int64_t step);

}  // namespace dpo
