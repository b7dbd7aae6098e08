// The local site: this machine's processes (ProcessRunner) behind the SiteBackend contract.
// Nodes: "gpu" (the declared or detected accelerators, when there are any) and "cpu" (the CPU
// cores). The backend picks each worker's device ids itself from its DeviceLedger: ranks are
// assigned node by node, each worker gets exactly accelerators_per_worker ids of its node through
// LaunchRequest::device_env; the ids go back to the ledger when the run's end is reported by Poll
// (also after Kill) and are re-taken by Adopt from the handle. Run directories (logs, exit files,
// handle.json, devices.json) are <data_dir>/runs/<job_id>/<attempt>/.
// Capabilities: starts_at_launch, no withdraw, static inventory, one launch at a time.
// Thread-safe; nothing here touches the network.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/local/device_ledger.h"
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
};

class LocalBackend final : public SiteBackend {
 public:
  // `detected`: what DetectInventory() found (injected so tests can declare a machine).
  LocalBackend(std::string name, LocalOptions opts, const LocalInventory& detected);

  const std::string& name() const override { return name_; }
  std::string_view type() const override { return "local"; }
  Capabilities capabilities() const override;
  SiteInventory Inventory() override { return inventory_; }
  // kInvalidArgument: a node that is not this site's, accelerators asked of a node without them;
  // kUnavailable: the node's devices are busy (the caller's view of them is stale).
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

 private:
  // Device ids a run holds, by node.
  using Held = std::map<std::string, std::vector<int>>;
  Result<std::vector<std::vector<int>>> TakeDevices(const LaunchRequest& req, Held* held);
  void ReleaseDevices(const Held& held);
  void ReleaseJob(int64_t job_id);
  std::string RunDir(int64_t job_id, int attempt) const;

  std::string name_;
  LocalOptions opts_;
  SiteInventory inventory_;
  ProcessRunner runner_;
  DeviceLedger ledger_;
  std::mutex mu_;
  std::map<int64_t, Held> held_;   // guarded by mu_: devices of runs not yet reported ended
  std::vector<SiteEvent> ended_;   // guarded by mu_: adopted runs that had already ended
};

// The registry's factory for `type: local`. Keys: accelerator, accelerators, cpus, memory_gib
// (each declared, else detected); any other key not in env.shared_keys is an error naming it.
Result<std::unique_ptr<SiteBackend>> MakeLocalBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env);

}  // namespace cnet::backends::local
