// RunMain: the one place where an executable turns errors into exit codes
// (docs/architecture.md, "Binaries"): dpo::Error -> its kind's code with
// "<program>: <kind>: <message>"; anything else -> 1.
#pragma once

#include <functional>

namespace dpo {

int RunMain(const char* program, const std::function<int()>& body);

}  // namespace dpo
