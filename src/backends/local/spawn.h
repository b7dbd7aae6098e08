// Starting a local run's supervisors (the parent side of supervisor.h), one process group per run:
// worker 0 leads a new session and clones the others into it (CLONE_PARENT), so that they are
// still children of this process; where CLONE_PARENT is refused, every supervisor is forked from
// here into one new group of this session (see process_runner.cc for why). Internal to the local
// site. Thread-safe: no shared state; every signal is blocked in the calling thread around fork.
#pragma once

#include <string>
#include <vector>

#include "backends/local/supervisor.h"
#include "common/status.h"

namespace cnet::backends::local {

// Starts one supervisor per plan; returns their pids, worker 0's first (it is the group's id).
// kInternal if a fork (or the pipe from worker 0) fails: whatever started is killed and reaped.
// CNET_LOCAL_SITE_GROUP_MODE=1 in this process's environment forces group mode (a testing knob).
Result<std::vector<int>> SpawnWorkers(const std::vector<WorkerPlan>& plans, const ChildCommon& common);
// Kills (SIGKILL to the group `pgid` when > 0, and to each pid) and reaps what a spawn started;
// empties `pids`.
void AbortSpawn(int pgid, std::vector<int>& pids);

// The parent side of a run's start gate (ChildCommon::go_fd): a one-way Unix socket pair whose read
// end the supervisors inherit. Release(n) lets n supervisors fork their job's process; closing the
// write end without it (or dying) makes them exit unrun. Not thread-safe; one per launch.
struct StartGate {
  int read_fd = -1;
  int write_fd = -1;
  StartGate() = default;
  StartGate(const StartGate&) = delete;
  StartGate& operator=(const StartGate&) = delete;
  ~StartGate();  // closes what is still open: supervisors not released exit at the gate
  // false (errno set) if the socket pair cannot be made. Both ends are close-on-exec.
  [[nodiscard]] bool Open();
  void CloseReadEnd();   // after the spawn: only the supervisors keep it
  void CloseWriteEnd();
  // One byte per supervisor, then closes the write end. No SIGPIPE if they are gone.
  void Release(int n);
};

// A ChildCommon for these log files and working directory (which must outlive it), with max_fd
// from RLIMIT_NOFILE (at most 65536; 1024 when unlimited); the caller fills in the rest.
ChildCommon MakeChildCommon(const std::string& out_path, const std::string& err_path, const std::string& cwd);

}  // namespace cnet::backends::local
