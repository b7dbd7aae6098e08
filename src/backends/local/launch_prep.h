// What ProcessRunner::Launch does before it forks: checks the spec, builds each worker's command
// and environment, makes the run's directories, records its handle. Internal to the local site.
// Thread-safe: no shared state (the filesystem aside).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/local/process_runner.h"
#include "backends/local/supervisor.h"
#include "common/status.h"

namespace cnet::backends::local {

// Everything Launch checks before it creates or starts anything (kInvalidArgument, "launch: ..."):
// argv, workers, devices' size, env and device_env names, time limit, working_dir's existence.
Status ValidateSpec(const LaunchSpec& spec);
// PATH, HOME, LANG from this process (defaults if absent; with an account, HOME is `work_dir` and
// USER, LOGNAME its name), then spec.env.
std::map<std::string, std::string> BaseEnv(const LaunchSpec& spec, const std::string& work_dir);
// kInvalidArgument naming `prog` when it cannot be found (see FindProgram).
Status CheckProgram(const std::string& prog, const std::string& path_env, const std::string& cwd);
// Each worker's argv, environment (env, device_env, CNET_JOB_ID, CNET_WORKER_INDEX,
// CNET_WORLD_SIZE), exit file under `private_dir` and gang label.
std::vector<WorkerPlan> BuildPlans(const LaunchSpec& spec, const std::map<std::string, std::string>& env,
                                   const std::string& private_dir, const std::vector<std::string>& candidates);
// The name of a run's cgroup: "job-<id>-<attempt>".
std::string CgroupName(int64_t job_id, int attempt);
// The run's private directory `dir`, under <data_dir>/runs (made 0700: only the service reads it).
Status MakePrivateDir(const std::string& data_dir, const std::string& dir);
// The job's own directory `dir`: <run_root> (the service's, 0711: traversable, not listable) /
// <job>-<attempt> (the job's account's, 0700). kFailedPrecondition for a run_root others could
// write to or that job accounts cannot reach; kInternal for a run directory that is not a
// directory (e.g. a symbolic link) or cannot be made.
Status MakeWorkDir(const std::string& run_root, const std::string& dir, const std::optional<RunAs>& run_as);
// Writes <h.run_dir>/handle.json (tmp + rename) before the run's start gate opens: a service
// that dies before it has recorded the launch finds it there on restart, even if the workers
// have ended meanwhile. An error names the file.
[[nodiscard]] Status WriteHandleFile(const RunHandle& h);

}  // namespace cnet::backends::local
