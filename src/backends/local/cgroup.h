// One control group per job run on the local site: resource limits from the job spec, and a
// membership that a job's processes cannot leave (setsid, setpgid and double forks stay inside),
// so that tracking, time limits and cancel reach every process the job started.
// Works on cgroup v2 (unified hierarchy at <root>, controllers memory, cpu, pids enabled for the
// subtree) and on cgroup v1 (separate memory, cpu, pids and freezer hierarchies under <root>/<ctl>),
// whichever the host has; DetectCgroups() tells which.
// Thread-safety: a JobCgroup is used by one thread at a time; distinct objects are independent.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::backends::local {

enum class CgroupVersion { kNone, kV1, kV2 };

// Where the service may create job cgroups.
struct CgroupHost {
  CgroupVersion version = CgroupVersion::kNone;
  std::string root = "/sys/fs/cgroup";  // mount point of the unified or of the v1 hierarchies
  std::string parent = "cnet";          // the service's subtree under each hierarchy
  std::string why_none;                 // when kNone: what is missing (not root, not mounted, ...)
};

// Inspects /proc/self/mounts (or `mounts_file`) and the permissions under `root`: kV2 when a
// cgroup2 hierarchy is mounted at root with memory, cpu and pids controllers available; kV1 when
// memory, cpu, pids and freezer v1 hierarchies are mounted under root and writable; else kNone
// with why_none. Never creates anything.
CgroupHost DetectCgroups(const std::string& root = "/sys/fs/cgroup",
                         const std::string& mounts_file = "/proc/self/mounts");

struct CgroupLimits {
  int64_t memory_bytes = 0;  // hard limit on RSS + page cache (v1 memory.limit_in_bytes,
                             // v2 memory.max); swap is not granted beyond it; 0 = none
  double cpus = 0;           // CPU bandwidth in cores (cfs quota / period, v2 cpu.max); 0 = none
  int64_t pids = 0;          // max tasks (processes + threads) (pids.max); 0 = none
};

class JobCgroup {
 public:
  // Creates (or, after a restart, re-opens when it exists) <parent>/<name> in every hierarchy
  // and writes the limits. `name` is a single path component (e.g. "job-42-1").
  // kInvalidArgument for a bad name (not [A-Za-z0-9._-]{1,200}, or "." / "..") or a negative
  // limit; kUnavailable when the host has no usable cgroups (message says why); kInternal naming
  // the file when a write fails. Re-creating an existing group rewrites every limit (0 resets).
  static Result<JobCgroup> Create(const CgroupHost& host, const std::string& name,
                                  const CgroupLimits& limits);
  // Re-opens an existing group after a restart; kNotFound if it is gone.
  static Result<JobCgroup> Open(const CgroupHost& host, const std::string& name);

  // The cgroup.procs files (one per hierarchy; v2: one) a child writes "0\n" to, between fork
  // and exec, to join the group before it runs any of the job's code. Absolute paths.
  const std::vector<std::string>& procs_files() const { return procs_files_; }
  // Moves `pid` into the group (all hierarchies). From the parent, after fork.
  Status Attach(pid_t pid) const;
  // Every pid in the group now (v2 cgroup.procs, v1 the memory hierarchy's cgroup.procs).
  std::vector<pid_t> Pids() const;
  bool Empty() const { return Pids().empty(); }
  // Sends `sig` to every process in the group such that none can escape by forking meanwhile:
  // v2 cgroup.kill for SIGKILL where the kernel has it, otherwise freeze (v1 freezer / v2
  // cgroup.freeze), signal every pid, thaw. Returns how many processes were signalled.
  Result<int> Signal(int sig) const;
  // True if the kernel killed a process of the group for running out of memory (v2
  // memory.events oom_kill > 0; v1 memory.oom_control oom_kill > 0 or memory.failcnt with an
  // OOM). Peak memory in bytes, when the host reports it (v1 max_usage_in_bytes, v2 memory.peak).
  bool OomKilled() const;
  std::optional<int64_t> PeakMemoryBytes() const;
  // Removes the group (every hierarchy). kFailedPrecondition while processes remain.
  Status Remove() const;

  const std::string& name() const { return name_; }

 private:
  CgroupHost host_;
  std::string name_;
  std::vector<std::string> dirs_;         // one per hierarchy (v2: one)
  std::vector<std::string> procs_files_;
};

}  // namespace cnet::backends::local
