// The local site's mechanism: runs each worker of a job as a child process on this machine.
//
// Each worker is a pair of processes:
//   * a supervisor, forked from this process (never exec'd), running as the service's user, which
//     forks the job's process, pipes its stdout and stderr into log files in the run's private
//     directory (with a size cap), waits for it and records its wait status there (exit.<k>);
//     in a gang (workers > 1) each line is written whole, prefixed by the worker's rank ("[k] ",
//     as `srun --label`), so the shared log tells the workers apart;
//   * the job's process, which joins the job's cgroup (when there is one), drops privileges to the
//     job's account (setgroups, setgid, setuid, checked), enters its working directory and execs
//     the command directly (no shell).
// So a job's outcome comes from the service's own processes, never from a file a job can write,
// and a job running as another account cannot signal the supervisors or the service.
//
// Directories of a run:
//   * private: <data_dir>/runs/<job_id>/<attempt>/ (0700, the service's): exit files, logs,
//     handle.json, devices.json. Jobs cannot reach it (the data dir is 0700).
//   * the job's: <run_root>/<job_id>-<attempt>/ (0700, owned by the job's account), its working
//     directory when none is given; run_root is 0711 (traversable, not listable).
// Time limits are enforced by Poll (SIGTERM, then SIGKILL after a grace period); Kill ends the job
// the same way. With a cgroup, signals go to every process in it (setsid and double forks stay
// inside); without one (the host has no usable cgroups), to the job's process group.
// Thread-safe: all methods may be called from any thread.
//
// Processes: worker 0's supervisor leads a new session and process group (pgid == its pid); the
// other supervisors are created in that group yet as children of this process (clone(CLONE_PARENT)
// from worker 0), so that Poll can waitpid them all. No SIGCHLD handler is installed: Poll reaps
// with WNOHANG. The embedding process must therefore not reap children it does not own (wait(),
// waitpid(-1)) nor set SIGCHLD to SIG_IGN. Each supervisor is a child subreaper when the run has a
// cgroup: it reaps every orphan of its job and exits only when none is left.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "backends/local/cgroup.h"
#include "common/status.h"

namespace cnet::backends::local {

// The account a job's processes run as.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (setgroups)
};

struct LaunchSpec {
  int64_t job_id = 0;
  int attempt = 1;                       // 1-based; names the run directory
  std::vector<std::string> argv;         // argv[0] resolved through PATH
  std::map<std::string, std::string> env;  // added to a minimal base env (PATH, HOME, LANG)
  std::string working_dir;               // "" = the run directory
  int workers = 1;                       // processes to start
  // Device ids per worker (outer size == workers); empty inner = none.
  std::vector<std::vector<int>> devices;
  std::string device_env = "CUDA_VISIBLE_DEVICES";  // or ASCEND_RT_VISIBLE_DEVICES
  double time_limit_s = 0;               // 0 = none
  // The job's account; nullopt = the service's own (no privilege change). With an account, HOME is
  // the job's run directory and USER/LOGNAME its name (spec.env may override them).
  std::optional<RunAs> run_as;
  // Limits of the run's cgroup, when the runner has cgroups (RunnerOptions::cgroups).
  CgroupLimits limits;
};

struct RunnerOptions {
  // Parent of the jobs' run directories; "" = <data_dir>-runs.
  std::string run_root;
  // Bytes at most per log file of a run (stdout, stderr: shared by its workers); 0 = no cap. At
  // the cap a note line is written and further output is discarded.
  int64_t log_cap_bytes = int64_t{1} << 30;
  // Where job cgroups go; version kNone = none (process groups only).
  CgroupHost cgroups;
};

// Enough to find the processes again after a restart; serialised into the job's runtime_json.
struct RunHandle {
  int64_t job_id = 0;
  int attempt = 1;
  int pgid = 0;
  std::vector<int> pids;                  // one per worker (the shims)
  std::vector<long long> start_ticks;     // /proc/<pid>/stat field 22, to detect pid reuse
  double started_at = 0;                  // epoch seconds
  double time_limit_s = 0;
  std::string run_dir;                    // private: <data>/runs/<job_id>/<attempt>
  std::string work_dir;                   // the job's run directory (<run_root>/<job_id>-<attempt>)
  std::string cgroup;                     // the run's cgroup name; "" = none
  int64_t memory_limit_bytes = 0;         // its memory limit, for the report of an OOM kill
  bool gated = false;  // started behind a start gate: each worker leaves began.<k> once it may run
  std::string ToJson() const;
  static Result<RunHandle> FromJson(const std::string& s);
};

struct ExitInfo {
  int64_t job_id = 0;
  bool success = false;        // every worker exited 0
  int exit_code = 0;           // first non-zero worker exit code, 128+signal if killed, 0 if all 0
  bool timed_out = false;
  bool killed = false;         // ended by Kill
  bool oom_killed = false;     // the kernel killed a process of its cgroup for lack of memory
  std::string reason;          // "exit code 3 (worker 1)", "TIMEOUT: time limit 60 s exceeded",
                               // "out of memory: limit 1.0 GiB", ...
};

class ProcessRunner {
 public:
  // `data_dir`: private records of runs go under <data_dir>/runs/<job_id>/<attempt>/ (logs, exit
  // files, handle).
  explicit ProcessRunner(std::string data_dir, RunnerOptions opts = {});
  // Neither kills nor reaps running jobs: they run in their own session and outlive this object
  // (and the service), to be re-adopted through their RunHandles. Within one process, a second
  // ProcessRunner that adopts them also reaps them.
  ~ProcessRunner();

  // Starts the job's workers now. Fails (nothing left running) if a process cannot start
  // (e.g. the program does not exist: message names it).
  // kInvalidArgument, before anything is created or started: empty argv, workers < 1, devices
  // size != workers, bad env names, a missing working_dir, or argv[0] not found ("program 'x' not
  // found in PATH"; PATH is spec.env's if it sets one). kAlreadyExists if the job is running here.
  // kInternal if fork fails (started workers are killed and reaped) or a directory or the cgroup
  // cannot be made. Each worker's environment:
  // PATH, HOME, LANG (from this process, or defaults), then spec.env, then device_env = its
  // comma-joined devices (set to "" for a worker with an empty list, hiding all devices, when
  // devices is non-empty), then CNET_JOB_ID, CNET_WORKER_INDEX, CNET_WORLD_SIZE. Exit files of a
  // previous launch of the same attempt are removed; logs are appended to.
  Result<RunHandle> Launch(const LaunchSpec& spec);
  // Re-adopts a job from a previous service process: true if its processes still run (or have
  // finished since and left their exit files, which the next Poll reports), false if they are gone
  // without a trace. A gated run's supervisors still at the gate are first given up to 3 s to
  // settle (exit unrun, or pass it), which they do at once when the service that launched them
  // is dead.
  bool Adopt(const RunHandle& h);
  // After Adopt returned false: whether no worker of this gated run ever passed its gate, i.e.
  // nothing of the job ran (the service died between writing the handle and opening the gate).
  // Always false for runs started without a gate (handles written by older versions).
  static bool NeverBegan(const RunHandle& h);
  // Reaps finished jobs and enforces time limits; returns jobs that ended since the last call.
  // `now` is epoch seconds (SystemClock), compared with RunHandle::started_at. Never blocks.
  // A job ends when all its workers have exited and no live process remains in its group:
  // * a worker ending non-zero while others run: the group gets SIGTERM, then SIGKILL after 5 s
  //   (a gang fails together); reported with that worker's exit code and reason;
  // * time limit exceeded: SIGTERM, SIGKILL after 5 s; timed_out=true,
  //   "TIMEOUT: time limit N s exceeded";
  // * with a cgroup, the job also ends only when its cgroup is empty (then the cgroup is removed);
  //   a process of it killed for lack of memory makes the reason "out of memory: limit X GiB";
  // * processes left behind by finished workers (background children): SIGTERM, SIGKILL after 5 s;
  // * precedence in the report: killed (Kill's reason), then timed_out, then the first failure.
  // killed/timed_out imply success=false; exit_code is still the first non-zero worker code
  // (e.g. 143 for SIGTERM, 137 for SIGKILL), possibly 0.
  std::vector<ExitInfo> Poll(double now);
  // Ends a job's process group: SIGTERM, then SIGKILL after `grace_s`. The job is reported by a
  // later Poll with killed=true. kNotFound if the job is not running here (or already reported).
  // grace_s <= 0: SIGKILL alone, at once. Killing again only shortens the grace.
  Status Kill(int64_t job_id, const std::string& reason, double grace_s = 5);
  // The job's run directory for an attempt.
  std::string WorkDir(int64_t job_id, int attempt) const;
  // Paths of a job's log files for an attempt (may not exist yet; in the private directory).
  std::string StdoutPath(int64_t job_id, int attempt) const;
  std::string StderrPath(int64_t job_id, int attempt) const;
  // Jobs launched or adopted and not yet reported by Poll.
  size_t running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnet::backends::local
