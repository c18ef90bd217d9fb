// The seed's closed-form check, end to end through dpo-train and dpo-reward.
//
// DPO's optimum is pi*(y|x) = pi_ref(y|x) exp(r(x,y)/beta) / Z(x). One prompt, K single-token
// responses, a reference with measured probabilities, preference pairs drawn from pi_ref and
// labelled by Bradley-Terry with P(y_i > y_j) = sigmoid(r_i - r_j). After sigmoid DPO has
// converged, beta * log(pi/pi_ref) minus its mean must equal r minus its mean, and
// KL(pi || pi*) over the K responses must be ~0.
//
// The pairs are drawn by stratified sampling: each ordered pair type (i, j) appears
// round(N q_i q_j) times and is labelled i-wins in round(n_ij sigmoid(r_i - r_j)) of them. The
// DPO objective over a data set is minimised where the implicit rewards are the data's
// Bradley-Terry maximum-likelihood rewards, which equal r up to that rounding. Two checks:
// against the data's MLE (tight: it measures the trainer's convergence) and against r itself
// (looser: the rounding of rare pair types moves the MLE by up to ~0.005). Measured here:
// 0.014 from the MLE, 0.016 from r, KL 5e-5 after 30 epochs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace dpo::testing {
namespace {

const std::vector<std::string> kResponses = {"A", "B", "C", "D"};
const std::vector<double> kReward = {0.0, 1.0, -1.0, 0.5};
constexpr double kBeta = 1.0;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Bradley-Terry maximum-likelihood rewards of `wins[i][j]` (times i beat j), centred: gradient
// ascent on the log-likelihood, in double precision, to convergence.
std::vector<double> BradleyTerryMle(const std::vector<std::vector<int>>& wins) {
  const size_t k = wins.size();
  std::vector<double> u(k, 0.0);
  double total = 0;
  for (const auto& row : wins) total += std::accumulate(row.begin(), row.end(), 0.0);
  for (int iteration = 0; iteration < 200000; ++iteration) {
    std::vector<double> gradient(k, 0.0);
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) {
        if (wins[i][j] == 0) continue;
        const double g = wins[i][j] * Sigmoid(u[j] - u[i]) / total;  // d/du_i log sigmoid(u_i - u_j)
        gradient[i] += g;
        gradient[j] -= g;
      }
    }
    double step = 0;
    for (size_t i = 0; i < k; ++i) {
      u[i] += 2.0 * gradient[i];
      step = std::max(step, std::abs(gradient[i]));
    }
    if (step < 1e-12) break;
  }
  const double mean = std::accumulate(u.begin(), u.end(), 0.0) / static_cast<double>(k);
  for (double& value : u) value -= mean;
  return u;
}

// A linear decay to 0 ends training at the optimum rather than in the noise of the last batches.
void WriteJob(const std::string& path, const std::string& init, const std::string& data, const std::string& loss,
              double learning_rate, int epochs, const std::string& output) {
  std::ofstream job(path);
  job << "model:\n  init: " << init << "\n";
  if (init == "random") job << "  seed: 5\n  n_positions: 16\n  n_embd: 32\n  n_layer: 1\n  n_head: 2\n";
  job << "data:\n  train: " << data << "\n  max_length: 16\n  max_prompt_length: 8\n"
      << "training:\n  loss_type: " << loss << "\n  beta: " << kBeta << "\n  learning_rate: " << learning_rate
      << "\n  lr_scheduler: linear\n  per_device_batch_size: 64\n  epochs: " << epochs
      << "\n  max_grad_norm: 0\n  threads: 1\n  logging_steps: 50\n"
      << "output:\n  dir: " << output << "\nmetrics:\n  progress: never\n";
}

// log pi(y|x) of each response under `policy` and `reference`, via dpo-reward.
std::pair<std::vector<double>, std::vector<double>> LogProbs(const TempDir& dir, const std::string& policy,
                                                             const std::string& reference) {
  {
    std::ofstream rows(dir.File("responses.jsonl"));
    for (const auto& response : kResponses) rows << nlohmann::json{{"prompt", "Q"}, {"response", response}}.dump() << "\n";
  }
  const auto result = RunProcess({BinaryPath("dpo-reward"), "--policy", policy, "--reference", reference, "--beta",
                                  std::to_string(kBeta), "--data", dir.File("responses.jsonl"), "--out",
                                  dir.File("scores.jsonl")},
                                 {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::vector<double> policy_log_probs, reference_log_probs;
  std::istringstream lines(ReadFile(dir.File("scores.jsonl")));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line);
    policy_log_probs.push_back(row.at("policy_log_prob"));
    reference_log_probs.push_back(row.at("reference_log_prob"));
  }
  return {policy_log_probs, reference_log_probs};
}

TEST(ClosedForm, DpoConvergesToTheAnalyticOptimum) {
  TempDir dir;
  const std::vector<std::string> env = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
  // 1. A reference with probabilities near (0.4, 0.3, 0.2, 0.1): SFT on samples of them.
  {
    std::ofstream rows(dir.File("sft.jsonl"));
    const std::vector<int> counts = {160, 120, 80, 40};
    for (size_t k = 0; k < kResponses.size(); ++k) {
      for (int n = 0; n < counts[k]; ++n) {
        rows << nlohmann::json{{"prompt", "Q"}, {"chosen", kResponses[k]}, {"rejected", "Z"}}.dump() << "\n";
      }
    }
  }
  WriteJob(dir.File("sft.yaml"), "random", "sft.jsonl", "sft", 0.01, 15, "sft");
  const auto sft = RunProcess({BinaryPath("dpo-train"), "--config", dir.File("sft.yaml")}, env);
  ASSERT_EQ(sft.exit_code, 0) << sft.output;
  const std::string reference = dir.File("sft/final");

  // 2. Its probabilities over the K responses, measured (q = pi_ref restricted to K).
  const std::vector<double> reference_log_probs = LogProbs(dir, reference, reference).second;
  ASSERT_EQ(reference_log_probs.size(), kResponses.size());
  std::vector<double> q;
  for (double lp : reference_log_probs) q.push_back(std::exp(lp));
  const double q_sum = std::accumulate(q.begin(), q.end(), 0.0);
  for (double& value : q) value /= q_sum;
  EXPECT_NEAR(q[0], 0.4, 0.05);
  EXPECT_NEAR(q[3], 0.1, 0.05);

  // 3. Pairs from pi_ref labelled by Bradley-Terry (stratified, see the file comment).
  std::vector<std::vector<int>> wins(kResponses.size(), std::vector<int>(kResponses.size(), 0));
  {
    std::ofstream rows(dir.File("pairs.jsonl"));
    const int total = 6000;
    for (size_t i = 0; i < kResponses.size(); ++i) {
      for (size_t j = 0; j < kResponses.size(); ++j) {
        if (i == j) continue;
        const int n = static_cast<int>(std::lround(total * q[i] * q[j]));
        const int i_wins = static_cast<int>(std::lround(n * Sigmoid(kReward[i] - kReward[j])));
        wins[i][j] += i_wins;
        wins[j][i] += n - i_wins;
        for (int k = 0; k < n; ++k) {
          const bool first_wins = k < i_wins;
          rows << nlohmann::json{{"prompt", "Q"},
                                 {"chosen", kResponses[first_wins ? i : j]},
                                 {"rejected", kResponses[first_wins ? j : i]}}
                      .dump()
               << "\n";
        }
      }
    }
  }
  // 4. Sigmoid DPO from the reference until converged.
  WriteJob(dir.File("dpo.yaml"), reference, "pairs.jsonl", "sigmoid", 0.01, 30, "dpo");
  const auto dpo = RunProcess({BinaryPath("dpo-train"), "--config", dir.File("dpo.yaml")}, env, 900);
  ASSERT_EQ(dpo.exit_code, 0) << dpo.output;

  // 5. beta log(pi/pi_ref) - mean vs r - mean, and KL(pi || pi*) over the K responses.
  const auto [policy_log_probs, reference_again] = LogProbs(dir, dir.File("dpo/final"), reference);
  ASSERT_EQ(policy_log_probs.size(), kResponses.size());
  std::vector<double> implicit_reward;
  for (size_t k = 0; k < kResponses.size(); ++k) implicit_reward.push_back(kBeta * (policy_log_probs[k] - reference_again[k]));
  const double reward_mean = std::accumulate(kReward.begin(), kReward.end(), 0.0) / kResponses.size();
  const double implicit_mean = std::accumulate(implicit_reward.begin(), implicit_reward.end(), 0.0) / kResponses.size();
  const std::vector<double> data_optimum = BradleyTerryMle(wins);
  double max_error = 0, max_error_to_data_optimum = 0;
  for (size_t k = 0; k < kResponses.size(); ++k) {
    max_error = std::max(max_error, std::abs((implicit_reward[k] - implicit_mean) - (kReward[k] - reward_mean)));
    max_error_to_data_optimum =
        std::max(max_error_to_data_optimum, std::abs((implicit_reward[k] - implicit_mean) - data_optimum[k]));
  }
  std::vector<double> policy_k, optimum_k;
  for (size_t k = 0; k < kResponses.size(); ++k) {
    policy_k.push_back(std::exp(policy_log_probs[k]));
    optimum_k.push_back(q[k] * std::exp(kReward[k] / kBeta));
  }
  const double policy_sum = std::accumulate(policy_k.begin(), policy_k.end(), 0.0);
  const double optimum_sum = std::accumulate(optimum_k.begin(), optimum_k.end(), 0.0);
  double kl = 0;
  for (size_t k = 0; k < kResponses.size(); ++k) {
    const double p = policy_k[k] / policy_sum, p_star = optimum_k[k] / optimum_sum;
    kl += p * std::log(p / p_star);
  }
  for (size_t k = 0; k < kResponses.size(); ++k) {
    std::cout << "response " << kResponses[k] << ": q " << q[k] << ", implicit reward (centred) "
              << implicit_reward[k] - implicit_mean << ", data MLE " << data_optimum[k] << ", r (centred) "
              << kReward[k] - reward_mean << "\n";
  }
  std::cout << "closed form: max |centred implicit reward - centred r| = " << max_error
            << ", to the data's MLE = " << max_error_to_data_optimum << ", KL(pi || pi*) over the responses = " << kl
            << "\n";
  EXPECT_LT(max_error_to_data_optimum, 0.03);
  EXPECT_LT(max_error, 0.05);
  EXPECT_LT(kl, 2e-4);
}

}  // namespace
}  // namespace dpo::testing
