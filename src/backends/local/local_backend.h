// The local site: this machine's processes (ProcessRunner) behind the SiteBackend contract.
// Nodes: "gpu" (the declared or detected accelerators, when there are any) and "cpu" (the CPU
// cores). The backend picks each worker's device ids itself from its DeviceLedger: ranks are
// assigned node by node, each worker gets exactly accelerators_per_worker ids of its node through
// LaunchRequest::device_env; the ids go back to the ledger when the run's end is reported by Poll
// (also after Kill) and are re-taken by Adopt from the handle. Private run directories (logs, exit
// files, handle.json, devices.json) are <data_dir>/runs/<job_id>/<attempt>/; the job's own run
// directory is <run_root>/<job_id>-<attempt>/ (see process_runner.h).
//
// Job identity: a job runs as its tenant's Unix account (LaunchRequest::unix_user), never as root
// or as the service's own user. When the service runs as root and the account does not exist, it
// is created (useradd --system, no login shell, no home). A request without an account, or whose
// account is uid 0 or the service's uid, or that a non-root service cannot switch to, is refused
// (kFailedPrecondition, "tenant X maps to no Unix account; run `cnet admin tenant X --unix-user
// NAME`") unless allow_root_jobs is set: then such jobs run as the service's own user (for
// single-user machines).
//
// Limits: one cgroup per run (job-<id>-<attempt> under cgroup_parent) with memory
// (memory_gib_per_worker x workers), CPU (cpus_per_worker x workers) and pids (pids_per_job)
// limits. Where the host has no usable cgroups the site says so in its inventory's reason and runs
// jobs in process groups only (no limits; setsid escapes), unless require_cgroups is set: then the
// site cannot be built.
// Energy: a PowerSampler (power_sampler.h) measures each run's energy from RAPL and nvidia-smi
// where readable; a run's kEnded event carries it (kEnergyJoulesField, kEnergySourceField).
// Capabilities: starts_at_launch, no withdraw, static inventory, one launch at a time.
// Thread-safe; nothing here touches the network.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/local/device_ledger.h"
#include "backends/local/inventory.h"
#include "backends/local/power_sampler.h"
#include "backends/local/process_runner.h"
#include "backends/registry.h"
#include "backends/site_backend.h"

namespace cnet::backends::local {

struct LocalOptions {
  std::string data_dir;
  std::string accelerator;  // catalogue name; "" = detected
  int accelerators = -1;    // -1 = detected
  int cpus = 0;             // 0 = detected
  double memory_gib = 0;    // 0 = detected
  std::string run_root;     // "" = <data_dir>-runs
  bool allow_root_jobs = false;
  int64_t log_cap_bytes = int64_t{1} << 30;  // per log file of a run; 0 = no cap
  int64_t pids_per_job = 4096;
  bool cgroups = true;           // use cgroups where the host has them
  bool require_cgroups = false;  // refuse to run without them
  std::string cgroup_parent;     // "" = cnet-<hash of data_dir>, so services do not share groups
  // Measured energy: seconds between power samples (0 = measure nothing), the powercap tree, and
  // the nvidia-smi command ("" = nvidia-smi when it found this machine's GPUs).
  double power_sample_s = 1;
  std::string powercap_root = "/sys/class/powercap";
  std::string nvidia_smi;
};

class LocalBackend final : public SiteBackend {
 public:
  // `detected`: what DetectInventory() found (injected so tests can declare a machine); `cgroups`:
  // what DetectCgroups() found (version kNone: process groups only).
  LocalBackend(std::string name, LocalOptions opts, const LocalInventory& detected, CgroupHost cgroups = {});

  const std::string& name() const override { return name_; }
  std::string_view type() const override { return "local"; }
  Capabilities capabilities() const override;
  SiteInventory Inventory() override { return inventory_; }
  // kInvalidArgument: a node that is not this site's, accelerators asked of a node without them;
  // kUnavailable: the node's devices are busy (the caller's view of them is stale);
  // kFailedPrecondition: no account to run the job as (see above).
  Result<LaunchResult> Launch(const LaunchRequest& req) override;
  std::vector<SiteEvent> Poll(double now) override;
  Status Kill(int64_t job_id, const std::string& reason) override;
  // Always kMayRun: runs start at Launch.
  Result<WithdrawOutcome> Withdraw(int64_t job_id, int attempt) override;
  // Re-takes the run's devices from the handle. kAlreadyExists: adopted, but some of its devices
  // were already held by another run (both keep them; the caller reports the clash).
  Result<AdoptOutcome> Adopt(int64_t job_id, int attempt, const std::string& handle) override;
  Interrupted FindInterrupted(int64_t job_id, int attempt) override;
  std::string LogPath(int64_t job_id, int attempt, std::string_view stream) const override;

  // Busy device ids of a node (tests, display).
  std::vector<int> BusyDevices(const std::string& node) const { return ledger_.Busy(node); }
  // What the power sampler reads ("rapl (1 zone(s))", or why nothing), "" when measuring is off.
  std::string PowerSources() const { return power_ ? power_->description() : ""; }

 private:
  // Device ids a run holds, by node.
  using Held = std::map<std::string, std::vector<int>>;
  Result<std::vector<std::vector<int>>> TakeDevices(const LaunchRequest& req, Held* held);
  void ReleaseDevices(const Held& held);
  void ReleaseJob(int64_t job_id);
  std::string RunDir(int64_t job_id, int attempt) const;
  // The account the request's job runs as; nullopt = the service's own (allow_root_jobs).
  Result<std::optional<RunAs>> ResolveAccount(const LaunchRequest& req) const;

  std::string name_;
  LocalOptions opts_;
  SiteInventory inventory_;
  ProcessRunner runner_;
  DeviceLedger ledger_;
  std::mutex mu_;
  std::map<int64_t, Held> held_;   // guarded by mu_: devices of runs not yet reported ended
  std::map<int64_t, std::string> staged_;  // guarded by mu_: inputs dir of runs that stage in
  std::vector<SiteEvent> ended_;   // guarded by mu_: adopted runs that had already ended
  std::unique_ptr<PowerSampler> power_;  // null: not measuring
};

// The registry's factory for `type: local`. Keys: accelerator, accelerators, cpus, memory_gib
// (each declared, else detected), run_root, allow_root_jobs (or env.allow_root_jobs),
// log_cap_mib (default 1024), pids_per_job (default 4096), cgroups (default true),
// require_cgroups (default false), cgroup_parent, power_sample_s (default 1, 0 = off, else 0.2..60),
// powercap_root, nvidia_smi; any other key not in env.shared_keys is an
// error naming it.
Result<std::unique_ptr<SiteBackend>> MakeLocalBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env);

}  // namespace cnet::backends::local
