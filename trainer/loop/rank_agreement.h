// Start-up agreement between ranks: every rank must train the same job on the same data with
// the same weights. Each rank describes what it holds as YAML-shaped text ("section:\n  key:
// value"); rank 0's text is broadcast and compared line by line, so a disagreement names the key.
#pragma once

#include <string>

namespace dpo {

class Communicator;

// The first place where two YAML-shaped texts differ, as "<dotted.key>: <ours> vs <theirs>"
// (indentation of 2 per level names the nesting); empty when they are equal.
std::string FirstDifference(const std::string& ours, const std::string& theirs);

// Collective. Throws Error(kInvalidInput) on every rank when any rank's `description` differs
// from rank 0's, naming the lowest such rank and the first differing key, e.g.
//   "ranks disagree on the job: rank 1 has training.learning_rate: 0.002, rank 0 has 0.001".
// `what` names the thing compared in the message ("the job", "the initial weights").
void CheckRanksAgree(Communicator& communicator, const std::string& description, const std::string& what);

}  // namespace dpo
