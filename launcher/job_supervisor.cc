// The mpirun supervision loop: wait, count stop requests, escalate on schedule.
#include "launcher/job_supervisor.h"

#include <signal.h>

#include <chrono>
#include <sstream>

#include "core/common/clock.h"
#include "launcher/child_process.h"
#include "launcher/stop_requests.h"

namespace dpo {
namespace {


enum class Stage { kRunning, kStopping, kTerminating, kKilled };

std::string Seconds(double seconds) {
  std::ostringstream out;
  out << seconds << " s";
  return out.str();
}

}  // namespace

JobOutcome SuperviseMpirun(const std::vector<std::string>& mpirun_argv, const SupervisionOptions& options,
                           std::ostream& log) {
  JobOutcome outcome;
  ChildProcess mpirun(ChildOptions{mpirun_argv, {}, false});
  Stage stage = Stage::kRunning;
  Clock::time_point deadline = Clock::time_point::max();
  int handled = 0;  // a request that came before mpirun started is acted on at once
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const auto terminate = [&](const std::string& why) {
    log << "dpo-launch: " << why << ": SIGTERM to mpirun (it ends every rank)" << std::endl;
    mpirun.Signal(SIGTERM);
    stage = Stage::kTerminating;
    deadline = Clock::now() + seconds(options.term_seconds);
  };
  const auto kill = [&](const std::string& why) {
    log << "dpo-launch: " << why << ": killing mpirun and every process under it" << std::endl;
    stage = Stage::kKilled;
    mpirun.KillTree();
  };
  while (!mpirun.Wait(0.05)) {
    const int requests = StopRequestCount();
    for (; handled < requests; ++handled) {  // each request moves one stage on
      if (outcome.stop_signal == 0) outcome.stop_signal = LastStopSignal();
      const std::string signal_name = "signal " + std::to_string(LastStopSignal());
      if (stage == Stage::kRunning) {
        log << "dpo-launch: " << signal_name
            << ": asking every rank to stop at the next step boundary and checkpoint (SIGUSR1 to mpirun); "
            << "signal again to stop at once" << std::endl;
        mpirun.Signal(SIGUSR1);
        stage = Stage::kStopping;
        deadline = Clock::now() + seconds(options.grace_seconds);
      } else if (stage == Stage::kStopping) {
        terminate(signal_name + " again");
      } else if (stage == Stage::kTerminating) {
        kill(signal_name + " again");
      }
    }
    if (stage != Stage::kKilled && Clock::now() >= deadline) {
      if (stage == Stage::kStopping) {
        terminate("the ranks did not stop within " + Seconds(options.grace_seconds) + " (--grace-period)");
      } else if (stage == Stage::kTerminating) {
        kill("mpirun still running " + Seconds(options.term_seconds) + " after SIGTERM");
      }
    }
  }
  outcome.exit_code = *mpirun.exit_code();
  return outcome;
}

}  // namespace dpo
