// The child side of a local run: the supervisor process of each worker and the job's process it
// forks (see process_runner.h for the process layout). Everything here runs between fork and exec
// in a child of a multi-threaded process, so it makes async-signal-safe calls only: the plans
// below are built, and every string they point to allocated, before the fork. Internal to the
// local site.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cnet::backends::local {

// One worker's command, built before any fork.
struct WorkerPlan {
  std::vector<std::string> arg_store, env_store;
  std::vector<char*> argv, envp;  // null-terminated, pointing into arg_store / env_store
  // Where the command may be, in PATH order, tried by the job's process with its own
  // credentials (a directory only root can enter must not decide the search).
  std::vector<std::string> candidates;
  std::string exit_file;  // private: where the supervisor records the exit code
  std::string exit_tmp;
  std::string began_file;  // private: created once the gate opened, before the job's process forks
  std::string label;      // "[k] " before each line this worker writes (a gang), "" for one worker
};

// What every worker of a run shares; all pointers stay valid until the spawn returns.
struct ChildCommon {
  const char* stdout_path;  // private log files, written by the supervisors
  const char* stderr_path;
  const char* cwd;
  int max_fd;  // fallback when close_range is unavailable
  bool drop = false;  // switch to uid/gid/groups before exec
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t ngroups = 0;
  std::vector<const char*> cgroup_procs;  // cgroup.procs files the job's process joins
  int64_t log_cap = 0;                    // bytes per log file; 0 = none
  bool reap_all = false;                  // cgroup mode: the supervisor waits for every descendant
  // The start gate: the read end of a pipe on which the service writes one byte per supervisor
  // once the run's handle is on disk. A supervisor forks the job's process only after reading its
  // byte; at end of file (the service died or gave up first) it exits 125 and the job never ran,
  // so that a restarted service may start it again. -1: no gate.
  int go_fd = -1;
};

// A supervisor (never returns; call only in a freshly forked child): runs as the service's user,
// outside the job's cgroup. Waits at the start gate (c.go_fd), then forks the job's process (which joins the cgroup, drops privileges and
// execs one of w.candidates), pumps its stdout/stderr into the capped log files, records its exit
// code in w.exit_file (tmp + rename; 128+signal when killed) and exits with it. In reap_all mode
// it is a child subreaper and exits only once no descendant is left.
[[noreturn]] void Supervise(const WorkerPlan& w, const ChildCommon& c);
// Writes "cnet: <what> <detail>: errno N" to fd 2 and _exits 127. Async-signal-safe.
[[noreturn]] void ChildFail(const char* what, const char* detail);
// Sets every signal's disposition to the default (exec keeps ignored ones). Async-signal-safe.
void ResetSignalDispositions();

}  // namespace cnet::backends::local
