#include "backends/local/local_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "backends/config_block.h"
#include "backends/local/proc_scan.h"
#include "backends/stage_in.h"
#include "backends/unix_account.h"
#include "common/csv.h"

namespace cnet::backends::local {
namespace {

using nlohmann::json;

constexpr const char* kGpuNode = "gpu";
constexpr const char* kCpuNode = "cpu";

json HeldJson(const std::map<std::string, std::vector<int>>& held) {
  json j = json::object();
  for (const auto& [node, ids] : held) j[node] = ids;
  return j;
}

std::map<std::string, std::vector<int>> HeldFromJson(const json& j) {
  std::map<std::string, std::vector<int>> held;
  if (!j.is_object()) return held;
  for (const auto& [node, ids] : j.items()) {
    if (ids.is_array()) held[node] = ids.get<std::vector<int>>();
  }
  return held;
}

// The outcome of a run that ended while no service watched it, from its workers' exit codes.
SiteEvent EndedEvent(int64_t job_id, int attempt, const json& codes) {
  SiteEvent e;
  e.kind = SiteEvent::kEnded;
  e.job_id = job_id;
  e.attempt = attempt;
  e.success = true;
  e.reason = "exit code 0";
  int k = 0;
  for (const auto& c : codes) {
    int code = c.is_number_integer() ? c.get<int>() : 1;
    if (code != 0 && e.success) {
      e.success = false;
      e.exit_code = code;
      e.reason = "exit code " + std::to_string(code) + " (worker " + std::to_string(k) + ")";
    }
    ++k;
  }
  e.reason += "; it ended while the service was down";
  return e;
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Declared values win over detected ones.
SiteInventory BuildInventory(const LocalOptions& o, const LocalInventory& detected) {
  SiteInventory inv;
  int cpus = o.cpus > 0 ? o.cpus : detected.cpus;
  double mem = o.memory_gib > 0 ? o.memory_gib : detected.memory_gib;
  std::string accel = o.accelerator.empty() ? detected.accelerator : o.accelerator;
  int count = o.accelerators >= 0 ? o.accelerators : detected.accelerator_count;
  if (!accel.empty() && count > 0) inv.nodes.push_back({kGpuNode, accel, count, cpus, mem, true, ""});
  inv.nodes.push_back({kCpuNode, "", 0, std::max(1, cpus), mem, true, ""});
  return inv;
}

std::map<std::string, int> DeviceCounts(const SiteInventory& inv) {
  std::map<std::string, int> out;
  for (const SiteNode& n : inv.nodes) {
    if (n.accelerators > 0) out[n.name] = n.accelerators;
  }
  return out;
}

// A name for this service's cgroup subtree that another service (another data dir) does not share:
// "cnet-" + FNV-1a of the data dir's absolute path.
std::string DefaultCgroupParent(const std::string& data_dir) {
  std::error_code ec;
  std::string path = std::filesystem::absolute(data_dir, ec).lexically_normal().string();
  uint32_t h = 2166136261u;
  for (unsigned char c : path) h = (h ^ c) * 16777619u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return std::string("cnet-") + buf;
}

RunnerOptions MakeRunnerOptions(const LocalOptions& o, CgroupHost host) {
  RunnerOptions r;
  r.run_root = o.run_root;
  r.log_cap_bytes = o.log_cap_bytes;
  if (o.cgroups && host.version != CgroupVersion::kNone) {
    host.parent = o.cgroup_parent.empty() ? DefaultCgroupParent(o.data_dir) : o.cgroup_parent;
    r.cgroups = host;
  }
  return r;
}

SiteInventory WithCgroupNote(SiteInventory inv, const LocalOptions& o, const CgroupHost& host) {
  if (!o.cgroups) {
    inv.reason = "cgroups disabled (cgroups: false): jobs are tracked by process group only; memory, CPU and process limits are not enforced";
  } else if (host.version == CgroupVersion::kNone) {
    inv.reason = "no usable cgroups (" + host.why_none + "): jobs are tracked by process group only; memory, CPU and process limits are not enforced";
  }
  return inv;
}

}  // namespace

LocalBackend::LocalBackend(std::string name, LocalOptions opts, const LocalInventory& detected, CgroupHost cgroups)
    : name_(std::move(name)), opts_(std::move(opts)),
      inventory_(WithCgroupNote(BuildInventory(opts_, detected), opts_, cgroups)),
      runner_(opts_.data_dir, MakeRunnerOptions(opts_, cgroups)), ledger_(DeviceCounts(inventory_)) {
  if (opts_.power_sample_s > 0) {
    SamplerOptions so;
    so.powercap_root = opts_.powercap_root;
    so.nvidia_smi = !opts_.nvidia_smi.empty() ? opts_.nvidia_smi : detected.device_names.empty() ? "" : "nvidia-smi";
    so.interval_s = opts_.power_sample_s;
    so.machine_cpus = inventory_.nodes.back().cpus;  // the "cpu" node: the machine's CPUs
    power_ = std::make_unique<PowerSampler>(so);
    power_->StartThread();
  }
}

Result<std::optional<RunAs>> LocalBackend::ResolveAccount(const LaunchRequest& req) const {
  const uid_t self = ::geteuid();
  const bool allow = opts_.allow_root_jobs;
  auto refuse = [&](const std::string& why) -> Status {
    return FailedPrecondition("tenant " + req.tenant + " maps to no Unix account" + why + "; run `cnet admin tenant " +
                              req.tenant + " --unix-user NAME` (or serve with --allow-root-jobs on a single-user machine)");
  };
  if (req.unix_user.empty()) {
    if (allow) return std::optional<RunAs>();
    return refuse("");
  }
  CNET_RETURN_IF_ERROR(CheckUnixUserName(req.unix_user));
  CNET_ASSIGN_OR_RETURN(std::optional<UnixAccount> acct, LookupAccount(req.unix_user));
  if (!acct && self == 0 && !allow) {
    CNET_RETURN_IF_ERROR(CreateSystemAccount(req.unix_user));
    CNET_ASSIGN_OR_RETURN(acct, LookupAccount(req.unix_user));
  }
  if (!acct) {
    if (allow) return std::optional<RunAs>();
    return refuse(": account '" + req.unix_user + "' does not exist and the service (uid " + std::to_string(self) +
                  ") cannot create it");
  }
  if (acct->uid == 0 || acct->uid == self) {
    if (allow) return std::optional<RunAs>();
    return refuse(": account '" + req.unix_user + "' is uid " + std::to_string(acct->uid) +
                  ", and jobs never run as root or as the service's own user");
  }
  if (self != 0) {
    if (allow) return std::optional<RunAs>();
    return refuse(": the service does not run as root and cannot switch to account '" + req.unix_user + "'");
  }
  return std::optional<RunAs>(RunAs{acct->name, acct->uid, acct->gid, acct->groups});
}

Capabilities LocalBackend::capabilities() const {
  Capabilities c;
  c.starts_at_launch = true;
  c.can_withdraw = false;
  c.dynamic_inventory = false;
  c.launch_concurrency = 1;
  return c;
}

std::string LocalBackend::RunDir(int64_t job_id, int attempt) const {
  return opts_.data_dir + "/runs/" + std::to_string(job_id) + "/" + std::to_string(attempt);
}

// Takes accelerators_per_worker ids per worker, node by node (the rank order); on error nothing
// stays taken.
Result<std::vector<std::vector<int>>> LocalBackend::TakeDevices(const LaunchRequest& req, Held* held) {
  std::vector<std::vector<int>> per_worker;
  for (const NodeShare& share : req.nodes) {
    auto node = std::find_if(inventory_.nodes.begin(), inventory_.nodes.end(),
                             [&](const SiteNode& n) { return n.name == share.node; });
    Status bad;
    if (node == inventory_.nodes.end()) {
      bad = InvalidArgument("launch: '" + share.node + "' is not a node of " + name_);
    } else if (share.workers < 1) {
      bad = InvalidArgument("launch: node '" + share.node + "' is given " + std::to_string(share.workers) + " workers");
    } else if (req.accelerators_per_worker > 0 && node->accelerators == 0) {
      bad = InvalidArgument("launch: node '" + share.node + "' has no accelerators");
    }
    Result<std::vector<int>> ids = std::vector<int>{};
    if (bad.ok() && req.accelerators_per_worker > 0) ids = ledger_.Take(share.node, share.workers * req.accelerators_per_worker);
    if (bad.ok() && !ids.ok()) {
      bad = ids.status().code() == Code::kResourceExhausted ? Status(Code::kUnavailable, "launch: " + ids.status().message())
                                                            : InvalidArgument("launch: " + ids.status().message());
    }
    if (!bad.ok()) {
      ReleaseDevices(*held);
      held->clear();
      return bad;
    }
    if (!ids->empty()) (*held)[share.node] = *ids;
    for (int w = 0; w < share.workers; ++w) {
      const int apw = req.accelerators_per_worker;
      per_worker.emplace_back(ids->begin() + w * apw, ids->begin() + (w + 1) * apw);
    }
  }
  return per_worker;
}

void LocalBackend::ReleaseDevices(const Held& held) {
  for (const auto& [node, ids] : held) ledger_.Release(node, ids);
}

void LocalBackend::ReleaseJob(int64_t job_id) {
  Held held;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = held_.find(job_id);
    if (it == held_.end()) return;
    held = std::move(it->second);
    held_.erase(it);
  }
  ReleaseDevices(held);
}

Result<LaunchResult> LocalBackend::Launch(const LaunchRequest& req) {
  if (req.nodes.empty()) return InvalidArgument("launch: no nodes placed");
  CNET_ASSIGN_OR_RETURN(std::optional<RunAs> run_as, ResolveAccount(req));
  Held held;
  CNET_ASSIGN_OR_RETURN(std::vector<std::vector<int>> devices, TakeDevices(req, &held));
  LaunchSpec ls;
  ls.job_id = req.job_id;
  ls.attempt = req.attempt;
  ls.argv = req.argv;
  ls.env = req.env;
  ls.working_dir = req.working_dir;
  ls.workers = req.workers();
  ls.time_limit_s = req.time_limit_s;
  ls.run_as = std::move(run_as);
  ls.limits.memory_bytes = static_cast<int64_t>(req.memory_gib_per_worker * ls.workers * 1024.0 * 1024.0 * 1024.0);
  ls.limits.cpus = static_cast<double>(req.cpus_per_worker) * ls.workers;
  ls.limits.pids = opts_.pids_per_job;
  if (req.accelerators_per_worker > 0) {
    ls.devices = devices;
    ls.device_env = req.device_env.empty() ? "CUDA_VISIBLE_DEVICES" : req.device_env;
  }
  // Inputs the site lacks: worker 0 copies them as the job's account before the command, the
  // others wait for it (backends/stage_in.h). The wrapper is sh; the command is exec'd.
  const std::string inputs = runner_.WorkDir(req.job_id, req.attempt) + "/inputs";
  if (!req.stage_in.empty()) {
    const std::string q = ShellWord(inputs);
    ls.argv = {"/bin/sh", "-c",
               "if [ \"${CNET_WORKER_INDEX:-0}\" = 0 ]; then " + StageInCopy(req.stage_in, q, "exit 1") + ": > " + q +
                   "/.ready; else while [ ! -e " + q + "/.ready ]; do sleep 0.1; done; " + StageInExports(req.stage_in, q) +
                   "fi; exec \"$@\"",
               "cnet-stage-in"};
    ls.argv.insert(ls.argv.end(), req.argv.begin(), req.argv.end());
  }
  // The devices go beside the run before it starts, so that FindInterrupted can re-take them.
  std::error_code ec;
  std::filesystem::create_directories(RunDir(req.job_id, req.attempt), ec);
  if (!ec) std::ofstream(RunDir(req.job_id, req.attempt) + "/devices.json") << HeldJson(held).dump();
  auto h = runner_.Launch(ls);
  if (!h.ok()) {
    ReleaseDevices(held);
    return h.status();
  }
  json handle = json::parse(h->ToJson());
  handle["devices"] = HeldJson(held);
  {
    std::lock_guard<std::mutex> l(mu_);
    held_[req.job_id] = held;
    if (!req.stage_in.empty()) staged_[req.job_id] = inputs;
  }
  if (power_) {
    std::vector<int> ids;
    for (const auto& [node, d] : held) ids.insert(ids.end(), d.begin(), d.end());
    power_->JobStarted(req.job_id, static_cast<int>(std::ceil(ls.limits.cpus)), std::move(ids), WallNow());
  }
  LaunchResult r;
  r.handle = handle.dump();
  r.started = true;
  r.note = "running on " + name_ + " (" + std::to_string(ls.workers) + " processes, group " + std::to_string(h->pgid) + ")";
  if (req.accelerators_per_worker > 0) r.devices = std::move(devices);
  return r;
}

std::vector<SiteEvent> LocalBackend::Poll(double now) {
  std::vector<SiteEvent> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    out.swap(ended_);
  }
  for (const ExitInfo& e : runner_.Poll(now)) {
    ReleaseJob(e.job_id);
    SiteEvent ev;
    ev.kind = SiteEvent::kEnded;
    ev.job_id = e.job_id;
    ev.success = e.success;
    ev.exit_code = e.exit_code;
    ev.killed = e.killed;
    ev.timed_out = e.timed_out;
    ev.oom_killed = e.oom_killed;
    ev.reason = e.success ? "exit code 0" : e.reason;
    std::string inputs;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = staged_.find(e.job_id); it != staged_.end()) {
        inputs = it->second;
        staged_.erase(it);
      }
    }
    if (!inputs.empty()) AddStageInFields(inputs, &ev);
    if (power_) {
      if (JobEnergy en = power_->JobEnded(e.job_id, WallNow()); !en.source.empty()) {
        ev.fields[kEnergyJoulesField] = FormatNumber("%.3f", en.joules);
        ev.fields[kEnergySourceField] = en.source;
      }
    }
    out.push_back(std::move(ev));
  }
  return out;
}

Status LocalBackend::Kill(int64_t job_id, const std::string& reason) { return runner_.Kill(job_id, reason); }

Result<WithdrawOutcome> LocalBackend::Withdraw(int64_t, int) { return WithdrawOutcome::kMayRun; }

Result<AdoptOutcome> LocalBackend::Adopt(int64_t job_id, int attempt, const std::string& handle) {
  json f = json::parse(handle, nullptr, false);
  if (!f.is_object()) return InvalidArgument("adopt: the handle of job " + std::to_string(job_id) + " is not JSON");
  if (f.value("ended", false)) {  // a run that ended before its launch was recorded
    std::lock_guard<std::mutex> l(mu_);
    ended_.push_back(EndedEvent(job_id, attempt, f.value("exit_codes", json::array())));
    return AdoptOutcome::kAdopted;
  }
  CNET_ASSIGN_OR_RETURN(RunHandle h, RunHandle::FromJson(handle));
  if (h.job_id != job_id) {
    return InvalidArgument("adopt: the handle names job " + std::to_string(h.job_id) + ", not " + std::to_string(job_id));
  }
  if (!runner_.Adopt(h)) return ProcessRunner::NeverBegan(h) ? AdoptOutcome::kNeverStarted : AdoptOutcome::kGone;
  Held held = HeldFromJson(f.value("devices", json::object()));
  Status shared;
  for (const auto& [node, ids] : held) {
    Status st = ledger_.Retake(node, ids);
    if (!st.ok() && shared.ok()) shared = st;
  }
  const std::string inputs = runner_.WorkDir(job_id, attempt) + "/inputs";
  std::error_code ec;
  const bool staged = std::filesystem::exists(inputs, ec);
  std::lock_guard<std::mutex> l(mu_);
  held_[job_id] = held;
  if (staged) staged_[job_id] = inputs;
  // The run is tracked either way; devices another run holds too are the caller's to report.
  if (!shared.ok()) return Status(shared.code(), "adopt: job " + std::to_string(job_id) + " adopted, but " + shared.message());
  return AdoptOutcome::kAdopted;
}

Interrupted LocalBackend::FindInterrupted(int64_t job_id, int attempt) {
  const std::string dir = RunDir(job_id, attempt);
  json devices = json::object();
  if (auto text = ReadWholeFile(dir + "/devices.json"); text.ok()) {
    json d = json::parse(*text, nullptr, false);
    if (d.is_object()) devices = d;
  }
  // The runner records each run's handle in its run directory right after starting it.
  if (auto text = ReadWholeFile(dir + "/handle.json"); text.ok()) {
    if (auto h = RunHandle::FromJson(*text); h.ok() && h->job_id == job_id) {
      json j = json::parse(*text);
      j["devices"] = devices;
      return {Interrupted::kFound, j.dump()};
    }
  }
  // Else (a crash between starting the workers and writing that file): its processes carry
  // CNET_JOB_ID in their environment; the shims are those whose parent is not one of the job's.
  auto procs = FindJobProcesses(job_id);
  if (procs.empty()) {
    // No handle and no process, but its workers may have run and ended: their shims left exit
    // files. Then it ran: never start it again.
    json codes = json::array();
    for (int k = 0;; ++k) {
      auto t = ReadWholeFile(dir + "/exit." + std::to_string(k));
      auto v = t.ok() ? ParseInt(Trim(*t)) : std::nullopt;
      if (!v) break;
      codes.push_back(*v);
    }
    if (codes.empty()) return {Interrupted::kNeverStarted, ""};
    return {Interrupted::kFound, json{{"ended", true}, {"exit_codes", codes}}.dump()};
  }
  RunHandle h;
  h.job_id = job_id;
  h.attempt = attempt;
  h.pgid = procs.front().pgid;
  h.started_at = WallNow();
  h.run_dir = dir;
  h.work_dir = runner_.WorkDir(job_id, attempt);
  h.cgroup = "job-" + std::to_string(job_id) + "-" + std::to_string(attempt);  // adopted if it exists
  std::vector<FoundProcess> shims;
  for (const auto& p : procs) {
    bool child_of_job = std::any_of(procs.begin(), procs.end(), [&](const auto& q) { return q.pid == p.ppid; });
    if (p.pgid == h.pgid && !child_of_job) shims.push_back(p);
  }
  std::sort(shims.begin(), shims.end(), [](const auto& x, const auto& y) { return x.worker_index < y.worker_index; });
  for (const auto& p : shims) {
    h.pids.push_back(p.pid);
    h.start_ticks.push_back(p.start_ticks);
  }
  json j = json::parse(h.ToJson());
  j["devices"] = devices;
  return {Interrupted::kFound, j.dump()};
}

std::string LocalBackend::LogPath(int64_t job_id, int attempt, std::string_view stream) const {
  return stream == "stderr" ? runner_.StderrPath(job_id, attempt) : runner_.StdoutPath(job_id, attempt);
}

Result<std::unique_ptr<SiteBackend>> MakeLocalBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env) {
  ConfigBlock b(block, env);
  CNET_RETURN_IF_ERROR(b.OnlyKeys({"accelerator", "accelerators", "cpus", "memory_gib", "run_root", "allow_root_jobs",
                                   "log_cap_mib", "pids_per_job", "cgroups", "require_cgroups", "cgroup_parent",
                                   "power_sample_s", "powercap_root", "nvidia_smi"}));
  LocalOptions o;
  o.data_dir = env.data_dir;
  o.allow_root_jobs = env.allow_root_jobs;
  CNET_RETURN_IF_ERROR(b.String("run_root", &o.run_root));
  CNET_RETURN_IF_ERROR(b.Bool("allow_root_jobs", &o.allow_root_jobs));
  int log_cap_mib = 1024, pids = 4096;
  CNET_RETURN_IF_ERROR(b.Int("log_cap_mib", 0, 1 << 30, &log_cap_mib));
  CNET_RETURN_IF_ERROR(b.Int("pids_per_job", 0, 1 << 22, &pids));
  o.log_cap_bytes = int64_t{log_cap_mib} << 20;
  o.pids_per_job = pids;
  CNET_RETURN_IF_ERROR(b.Bool("cgroups", &o.cgroups));
  CNET_RETURN_IF_ERROR(b.Bool("require_cgroups", &o.require_cgroups));
  CNET_RETURN_IF_ERROR(b.String("cgroup_parent", &o.cgroup_parent));
  if (!o.cgroup_parent.empty() && o.cgroup_parent.find('/') != std::string::npos)
    return b.Error("cgroup_parent", "a single path component");
  CNET_RETURN_IF_ERROR(b.String("accelerator", &o.accelerator));
  CNET_RETURN_IF_ERROR(b.Int("accelerators", 0, 1024, &o.accelerators));
  if (!o.accelerator.empty() && o.accelerators < 0) return b.Error("accelerators", "required when 'accelerator' is declared");
  CNET_RETURN_IF_ERROR(b.Int("cpus", 0, 100000, &o.cpus));
  CNET_RETURN_IF_ERROR(b.Double("memory_gib", 0, 1e7, &o.memory_gib));
  CNET_RETURN_IF_ERROR(b.Double("power_sample_s", 0, kMaxPowerSampleS, &o.power_sample_s));
  if (o.power_sample_s > 0 && o.power_sample_s < kMinPowerSampleS)
    return b.Error("power_sample_s", "0 (off) or at least " + FormatNumber("%g", kMinPowerSampleS) + " s");
  CNET_RETURN_IF_ERROR(b.String("powercap_root", &o.powercap_root));
  CNET_RETURN_IF_ERROR(b.String("nvidia_smi", &o.nvidia_smi));
  CgroupHost host = o.cgroups ? DetectCgroups() : CgroupHost{};
  if (o.require_cgroups && host.version == CgroupVersion::kNone)
    return b.Error("require_cgroups", "this host has no usable cgroups: " + (o.cgroups ? host.why_none : "cgroups: false"));
  return std::unique_ptr<SiteBackend>(std::make_unique<LocalBackend>(name, o, DetectInventory(), host));
}

}  // namespace cnet::backends::local
