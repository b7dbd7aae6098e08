// The service's view of a launched local run: which of its workers still run, signals to its
// cgroup or process group, and the report of its end. ProcessRunner keeps one TrackedJob per run
// and calls these under its lock. Internal to the local site. Not thread-safe by itself: one
// thread at a time per TrackedJob.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backends/local/cgroup.h"
#include "backends/local/process_runner.h"

namespace cnet::backends::local {

struct TrackedWorker {
  int pid = 0;
  long long start_ticks = 0;
  bool own = false;    // our child: waitpid works
  bool done = false;
  bool have_wait_status = false;
  int wait_status = 0;
  int exit_code = 0;   // valid once done
  std::string reason;  // "exit code 3 (worker 1)", ...
};

struct TrackedJob {
  RunHandle h;
  std::vector<TrackedWorker> workers;
  int first_failure = -1;  // first worker seen to end non-zero
  bool timed_out = false;
  bool killed = false;
  std::string kill_reason;
  bool term_sent = false;
  double sigkill_at = 0;  // monotonic
  bool kill_sent = false;
  double kill_sent_at = 0;  // monotonic
  std::optional<JobCgroup> cg;  // the run's cgroup, if it has one
};

// Scans /proc for members of the job's group. Zombie members that are our children (orphans
// inherited because this process is a subreaper or PID 1) are reaped on the way. Returns whether
// a live (non-zombie) member remains. Live members keep the pgid from being reused.
bool GroupHasLiveMembers(const TrackedJob& j);
// SIGTERM (and SIGCONT) to the run's cgroup, else its group, and SIGKILL due `grace_s` after
// `mono` (monotonic seconds); when already sent, only brings the SIGKILL forward. The group is
// signalled only while it is known to be the job's (a worker holds it or a live member remains).
void Terminate(TrackedJob& j, double grace_s, double mono);
// SIGKILL to the run's cgroup, else its group, now; records when (`mono`).
void SendKill(TrackedJob& j, double mono);
// Worker k's exit code as its supervisor recorded it in <run_dir>/exit.<k>; nullopt if absent.
std::optional<int> ReadExitFile(const std::string& run_dir, int k);
// Checks (and reaps, when it is our child) worker k; once it has ended, marks it done with its
// exit code: the supervisor's record first, else the wait status, else "ended without a trace".
void CheckWorker(TrackedJob& j, int k);
// The report of an ended run (see ProcessRunner::Poll for the precedence of reasons).
ExitInfo Report(const TrackedJob& j);

}  // namespace cnet::backends::local
