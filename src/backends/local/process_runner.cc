// ProcessRunner: workers as child processes. See process_runner.h for the contract.
//
// Process layout of a job with N workers:
//   * Worker 0's supervisor is forked by the service and calls setsid(): it leads a new session and
//     a new process group whose id (the job's pgid) is its pid.
//   * Supervisors 1..N-1 must be in that same group, but setpgid() cannot move a process into a
//     group of another session, so they cannot be forked by the service directly. Worker 0, after
//     setsid(), creates them with clone(CLONE_PARENT): they are born in its session and group yet
//     are children of the service (which can therefore waitpid them), and their pids come back to
//     the service through a pipe. Should CLONE_PARENT be refused (some sandboxes), Launch falls
//     back to forking every supervisor from the service into a new process group of the service's
//     session (setpgid), which still gives one group per job.
//   * Each supervisor forks the job's process (see process_runner.h) and records its exit code in
//     <private run dir>/exit.<k> (tmp + rename).
//
// Between fork and exec (and in supervisors, which never exec) a child of this multi-threaded
// process only makes async-signal-safe calls; everything it needs (argv, envp, paths) is built
// before the fork.
//
// Where the pieces are: launch_prep (checks, environment, directories), spawn (the fork/clone of
// the supervisors), supervisor (the child side), run_tracking (liveness, signals, exit report),
// inventory (what the machine offers). This file keeps ProcessRunner's state and its methods.
#include "backends/local/process_runner.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "backends/local/launch_prep.h"
#include "backends/local/proc_stat.h"
#include "backends/local/program_path.h"
#include "backends/local/run_tracking.h"
#include "backends/local/spawn.h"
#include "common/clock.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

constexpr double kDefaultGraceS = 5;     // SIGTERM -> SIGKILL for time limits, gang failures, strays
constexpr double kGiveUpAfterKillS = 10;  // report a job even if SIGKILLed members linger (D state)

}  // namespace

// ---------------------------------------------------------------------------------------------
// RunHandle JSON

std::string RunHandle::ToJson() const {
  nlohmann::json j;
  j["job_id"] = job_id;
  j["attempt"] = attempt;
  j["pgid"] = pgid;
  j["pids"] = pids;
  j["start_ticks"] = start_ticks;
  j["started_at"] = started_at;
  j["time_limit_s"] = time_limit_s;
  j["run_dir"] = run_dir;
  j["work_dir"] = work_dir;
  j["cgroup"] = cgroup;
  j["memory_limit_bytes"] = memory_limit_bytes;
  j["gated"] = gated;
  return j.dump();
}

Result<RunHandle> RunHandle::FromJson(const std::string& s) {
  try {
    nlohmann::json j = nlohmann::json::parse(s);
    if (!j.is_object()) return InvalidArgument("run handle: not a JSON object");
    RunHandle h;
    h.job_id = j.at("job_id").get<int64_t>();
    h.attempt = j.value("attempt", 1);
    h.pgid = j.at("pgid").get<int>();
    h.pids = j.at("pids").get<std::vector<int>>();
    h.start_ticks = j.value("start_ticks", std::vector<long long>{});
    h.started_at = j.value("started_at", 0.0);
    h.time_limit_s = j.value("time_limit_s", 0.0);
    h.run_dir = j.value("run_dir", std::string());
    h.work_dir = j.value("work_dir", std::string());
    h.cgroup = j.value("cgroup", std::string());
    h.memory_limit_bytes = j.value("memory_limit_bytes", int64_t{0});
    h.gated = j.value("gated", false);
    return h;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("run handle: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// ProcessRunner

struct ProcessRunner::Impl {
  std::string data_dir;
  std::string run_root;
  RunnerOptions opts;
  std::vector<JobCgroup> to_remove;  // guarded by mu: cgroups of ended runs not yet removed
  mutable std::mutex mu;
  std::map<int64_t, TrackedJob> jobs;  // guarded by mu
  std::set<int64_t> launching;         // guarded by mu: job ids between reservation and insertion

  struct LaunchGuard;
  // Marks `job_id` as being launched; kAlreadyExists if it runs or is being launched here.
  Status Reserve(int64_t job_id);
  // Starts tracking a just-spawned run whose h.start_ticks are filled in (StartTicksOf).
  void Track(const RunHandle& h, std::optional<JobCgroup> cg);

  std::string RunDir(int64_t job_id, int attempt) const {
    return data_dir + "/runs/" + std::to_string(job_id) + "/" + std::to_string(attempt);
  }

  // Removes the cgroups of ended runs; those that still hold processes (e.g. in D state) are
  // retried by the next Poll.
  void RemoveEndedCgroups() {
    std::vector<JobCgroup> keep;
    for (JobCgroup& cg : to_remove) {
      if (!cg.Remove().ok()) keep.push_back(std::move(cg));
    }
    to_remove = std::move(keep);
  }
};

ProcessRunner::ProcessRunner(std::string data_dir, RunnerOptions opts) : impl_(std::make_unique<Impl>()) {
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  impl_->data_dir = std::move(data_dir);
  impl_->run_root = opts.run_root.empty() ? impl_->data_dir + "-runs" : opts.run_root;
  impl_->opts = std::move(opts);
}

// Deliberately neither kills nor reaps: the jobs run in their own session and outlive this object
// (and the service process); a successor adopts them through their RunHandles.
ProcessRunner::~ProcessRunner() = default;

std::string ProcessRunner::WorkDir(int64_t job_id, int attempt) const {
  return impl_->run_root + "/" + std::to_string(job_id) + "-" + std::to_string(attempt);
}

std::string ProcessRunner::StdoutPath(int64_t job_id, int attempt) const {
  return impl_->RunDir(job_id, attempt) + "/stdout.log";
}
std::string ProcessRunner::StderrPath(int64_t job_id, int attempt) const {
  return impl_->RunDir(job_id, attempt) + "/stderr.log";
}

size_t ProcessRunner::running() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->jobs.size();
}

// Unmarks a job id reserved by Reserve.
struct ProcessRunner::Impl::LaunchGuard {
  Impl* impl;
  int64_t id;
  ~LaunchGuard() {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->launching.erase(id);
  }
};

Status ProcessRunner::Impl::Reserve(int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu);
  if (jobs.count(job_id) || launching.count(job_id)) {
    return Status(Code::kAlreadyExists, "launch: job " + std::to_string(job_id) + " is already running here");
  }
  launching.insert(job_id);
  return Status::Ok();
}

// Each worker's start time in clock ticks (unreaped children: present even if already exited).
std::vector<long long> StartTicksOf(const std::vector<int>& pids) {
  std::vector<long long> ticks;
  for (int pid : pids) {
    auto st = ReadProcStat(pid);
    ticks.push_back(st ? st->start_ticks : 0);
  }
  return ticks;
}

void ProcessRunner::Impl::Track(const RunHandle& h, std::optional<JobCgroup> cg) {
  TrackedJob job;
  job.cg = std::move(cg);
  for (size_t k = 0; k < h.pids.size(); ++k) {
    TrackedWorker w;
    w.pid = h.pids[k];
    w.start_ticks = h.start_ticks[k];
    w.own = true;
    job.workers.push_back(w);
  }
  job.h = h;
  std::lock_guard<std::mutex> lock(mu);
  jobs.emplace(job.h.job_id, std::move(job));
}

Result<RunHandle> ProcessRunner::Launch(const LaunchSpec& spec) {
  CNET_RETURN_IF_ERROR(ValidateSpec(spec));
  const std::string private_dir = impl_->RunDir(spec.job_id, spec.attempt);
  const std::string work_dir = WorkDir(spec.job_id, spec.attempt);
  std::map<std::string, std::string> env = BaseEnv(spec, work_dir);
  const std::string cwd = spec.working_dir.empty() ? work_dir : spec.working_dir;
  // The run directory does not exist yet; a relative program path is checked against it later.
  const bool check_later = spec.argv[0].find('/') != std::string::npos && spec.working_dir.empty() &&
                           spec.argv[0][0] != '/';
  if (!check_later) CNET_RETURN_IF_ERROR(CheckProgram(spec.argv[0], env["PATH"], cwd));

  CNET_RETURN_IF_ERROR(impl_->Reserve(spec.job_id));
  Impl::LaunchGuard unreserve{impl_.get(), spec.job_id};
  CNET_RETURN_IF_ERROR(MakePrivateDir(impl_->data_dir, private_dir));
  CNET_RETURN_IF_ERROR(MakeWorkDir(impl_->run_root, work_dir, spec.run_as));
  CNET_RETURN_IF_ERROR(CheckProgram(spec.argv[0], env["PATH"], cwd));
  // A relaunch of the same attempt must not see the previous exit files.
  std::error_code ec;
  fs::remove(private_dir + "/handle.json", ec);
  for (int k = 0; k < spec.workers; ++k) {
    fs::remove(private_dir + "/began." + std::to_string(k), ec);
    fs::remove(private_dir + "/exit." + std::to_string(k), ec);
    fs::remove(private_dir + "/exit." + std::to_string(k) + ".tmp", ec);
  }
  std::optional<JobCgroup> cg;
  if (impl_->opts.cgroups.version != CgroupVersion::kNone) {
    auto made = JobCgroup::Create(impl_->opts.cgroups, CgroupName(spec.job_id, spec.attempt), spec.limits);
    if (!made.ok()) return Internal("launch: " + made.status().message());
    cg = std::move(made).value();
  }

  const std::vector<WorkerPlan> plans = BuildPlans(spec, env, private_dir, ProgramCandidates(spec.argv[0], env["PATH"], cwd));
  const std::string out_path = private_dir + "/stdout.log";
  const std::string err_path = private_dir + "/stderr.log";
  ChildCommon common = MakeChildCommon(out_path, err_path, cwd);
  common.log_cap = impl_->opts.log_cap_bytes;
  if (spec.run_as) {
    common.drop = true;
    common.uid = spec.run_as->uid;
    common.gid = spec.run_as->gid;
    common.groups = spec.run_as->groups.data();
    common.ngroups = spec.run_as->groups.size();
  }
  if (cg) {
    for (const std::string& f : cg->procs_files()) common.cgroup_procs.push_back(f.c_str());
    common.reap_all = true;
  }
  // The start gate (supervisor.h): no job process runs before its handle is on disk, so that a
  // service killed in between finds, after a restart, either the handle or a run that never began.
  StartGate gate;
  if (!gate.Open()) {
    const std::string why = std::strerror(errno);
    Status rm = cg ? cg->Remove() : Status::Ok();  // nothing runs in it
    return Internal("launch: socketpair: " + why + (rm.ok() ? "" : "; " + rm.message()));
  }
  common.go_fd = gate.read_fd;
  auto pids = SpawnWorkers(plans, common);
  gate.CloseReadEnd();
  if (!pids.ok()) {
    Status rm = cg ? cg->Remove() : Status::Ok();  // nothing runs in it
    if (rm.ok()) return pids.status();
    return Status(pids.status().code(), pids.status().message() + "; " + rm.message());
  }

  RunHandle h;
  h.job_id = spec.job_id;
  h.attempt = spec.attempt;
  h.pgid = (*pids)[0];
  h.pids = *pids;
  h.started_at = SystemClock().Now();
  h.time_limit_s = spec.time_limit_s;
  h.run_dir = private_dir;
  h.work_dir = work_dir;
  h.cgroup = cg ? cg->name() : "";
  h.memory_limit_bytes = spec.limits.memory_bytes;
  h.start_ticks = StartTicksOf(h.pids);
  h.gated = true;
  Status written = WriteHandleFile(h);  // before the gate opens: a restart must find this run
  if (!written.ok()) {
    gate.CloseWriteEnd();  // the supervisors exit at the gate: nothing ran
    std::vector<int> started = *pids;
    AbortSpawn(h.pgid, started);
    Status rm = cg ? cg->Remove() : Status::Ok();
    return Internal("launch: " + written.message() + (rm.ok() ? "" : "; " + rm.message()));
  }
  impl_->Track(h, std::move(cg));
  gate.Release(static_cast<int>(h.pids.size()));
  return h;
}

namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Whether worker k may have started the job's process: it passed the gate or left an exit code.
bool WorkerBegan(const RunHandle& h, size_t k) {
  return Exists(h.run_dir + "/began." + std::to_string(k)) || ReadExitFile(h.run_dir, static_cast<int>(k)).has_value();
}

// A gated run whose service died before opening its gate: its supervisors see end of file and
// exit unrun, or (released just before the death) mark began.<k>, within moments. Waits, at most
// `limit_s`, until each worker has done one or the other, so that Adopt and NeverBegan see a
// settled run.
void SettleGate(const RunHandle& h, double limit_s) {
  const double until = MonotonicSeconds() + limit_s;
  for (;;) {
    bool waiting = false;
    for (size_t k = 0; k < h.pids.size() && !waiting; ++k) {
      auto st = ReadProcStat(h.pids[k]);
      const bool alive = st && st->start_ticks == h.start_ticks[k] && !IsDeadState(st->state);
      waiting = alive && !WorkerBegan(h, k);
    }
    if (!waiting || MonotonicSeconds() >= until) return;
    ::usleep(5000);
  }
}

}  // namespace

bool ProcessRunner::NeverBegan(const RunHandle& h) {
  if (!h.gated) return false;
  for (size_t k = 0; k < h.pids.size(); ++k)
    if (WorkerBegan(h, k)) return false;
  return true;
}

bool ProcessRunner::Adopt(const RunHandle& h) {
  if (h.pids.empty() || h.pgid <= 1 || h.start_ticks.size() != h.pids.size()) return false;
  if (h.gated) SettleGate(h, 3.0);
  TrackedJob job;
  job.h = h;
  bool any_alive = false;
  bool all_files = true;
  const int self = ::getpid();
  for (size_t k = 0; k < h.pids.size(); ++k) {
    TrackedWorker w;
    w.pid = h.pids[k];
    w.start_ticks = h.start_ticks[k];
    auto st = ReadProcStat(w.pid);
    if (st && st->start_ticks == w.start_ticks) {
      if (st->ppid == self) {
        w.own = true;  // still our child (same process); also counts if it is a zombie
        any_alive = true;
      } else if (!IsDeadState(st->state)) {
        any_alive = true;
      }
    }
    if (!ReadExitFile(h.run_dir, static_cast<int>(k))) all_files = false;
    job.workers.push_back(w);
  }
  if (!any_alive && !all_files) return false;
  if (!h.cgroup.empty() && impl_->opts.cgroups.version != CgroupVersion::kNone) {
    auto cg = JobCgroup::Open(impl_->opts.cgroups, h.cgroup);
    if (cg.ok()) job.cg = std::move(cg).value();  // gone: its processes have all ended
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->jobs.count(h.job_id) || impl_->launching.count(h.job_id)) return true;
  impl_->jobs.emplace(h.job_id, std::move(job));
  return true;
}

std::vector<ExitInfo> ProcessRunner::Poll(double now) {
  std::vector<ExitInfo> ended;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const double mono = MonotonicSeconds();
  for (auto it = impl_->jobs.begin(); it != impl_->jobs.end();) {
    TrackedJob& j = it->second;
    bool all_done = true;
    bool all_recorded = true;  // every job process has ended (its supervisor may wait for strays)
    for (size_t k = 0; k < j.workers.size(); ++k) {
      CheckWorker(j, static_cast<int>(k));
      const TrackedWorker& w = j.workers[k];
      if (!w.done) {
        all_done = false;
        // With a cgroup a supervisor outlives its job's process until the cgroup's strays end.
        auto recorded = j.cg ? ReadExitFile(j.h.run_dir, static_cast<int>(k)) : std::nullopt;
        if (!recorded) all_recorded = false;
        else if (*recorded != 0 && j.first_failure < 0) j.first_failure = static_cast<int>(k);
      } else if (w.exit_code != 0 && j.first_failure < 0) {
        j.first_failure = static_cast<int>(k);
      }
    }
    if (!all_done && !j.term_sent) {
      if (j.h.time_limit_s > 0 && now - j.h.started_at > j.h.time_limit_s) {
        j.timed_out = true;
        Terminate(j, kDefaultGraceS, mono);
      } else if (j.first_failure >= 0) {
        Terminate(j, kDefaultGraceS, mono);  // a gang fails together
      } else if (j.cg && all_recorded) {
        Terminate(j, kDefaultGraceS, mono);  // strays of a finished job
      }
    }
    if (j.term_sent && !j.kill_sent && mono >= j.sigkill_at) SendKill(j, mono);
    if (all_done) {
      // The workers are gone; wait for the rest of the cgroup or group (background processes) too.
      bool live = j.cg ? !j.cg->Empty() : GroupHasLiveMembers(j);
      if (live) {
        if (!j.term_sent) Terminate(j, kDefaultGraceS, mono);  // strays of a finished job
        if (!(j.kill_sent && mono - j.kill_sent_at > kGiveUpAfterKillS)) {
          ++it;
          continue;
        }
      }
      ended.push_back(Report(j));
      if (j.cg) impl_->to_remove.push_back(std::move(*j.cg));
      it = impl_->jobs.erase(it);
      continue;
    }
    ++it;
  }
  impl_->RemoveEndedCgroups();
  return ended;
}

Status ProcessRunner::Kill(int64_t job_id, const std::string& reason, double grace_s) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->jobs.find(job_id);
  if (it == impl_->jobs.end()) {
    return NotFound("job " + std::to_string(job_id) + " is not running on the local site");
  }
  TrackedJob& j = it->second;
  const double mono = MonotonicSeconds();
  if (!j.killed) {
    j.killed = true;
    j.kill_reason = reason;
  }
  if (grace_s > 0) {
    Terminate(j, grace_s, mono);
  } else if (!j.kill_sent) {  // no grace: SIGKILL alone, now
    j.term_sent = true;
    j.sigkill_at = mono;
    SendKill(j, mono);
  }
  return Status::Ok();
}

}  // namespace cnet::backends::local
