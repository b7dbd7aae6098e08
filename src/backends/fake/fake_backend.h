// An in-memory site backend for fast, deterministic tests of everything above the backend
// contract: nothing runs; the test scripts what happens (a run starts, ends with a code, the site
// becomes unreachable, a launch fails). Also usable from a config (`type: fake`) for benchmarks of
// the service without processes: runs then end on their own after `run_seconds` of the clock the
// service passes to Poll. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "backends/site_backend.h"

namespace cnet::backends {

struct FakeOptions {
  std::vector<SiteNode> nodes;       // the inventory
  Capabilities caps;                 // e.g. starts_at_launch true (local-like) or false (Slurm-like)
  double run_seconds = -1;           // >= 0: every run ends by itself (exit 0) that long after it started
};

class FakeBackend final : public SiteBackend {
 public:
  FakeBackend(std::string name, FakeOptions opts);
  ~FakeBackend() override;

  // --- SiteBackend
  const std::string& name() const override;
  std::string_view type() const override { return "fake"; }
  Capabilities capabilities() const override;
  SiteInventory Inventory() override;
  Result<LaunchResult> Launch(const LaunchRequest& req) override;
  std::vector<SiteEvent> Poll(double now) override;
  Status Kill(int64_t job_id, const std::string& reason) override;
  Result<WithdrawOutcome> Withdraw(int64_t job_id, int attempt) override;
  Result<AdoptOutcome> Adopt(int64_t job_id, int attempt, const std::string& handle) override;
  Interrupted FindInterrupted(int64_t job_id, int attempt) override;
  std::string LogPath(int64_t job_id, int attempt, std::string_view stream) const override;

  // --- scripting (tests)
  // Every launch so far, in order (the exact requests, for shape assertions).
  std::vector<LaunchRequest> launches() const;
  // Runs the backend knows and has not reported ended, by job id.
  std::vector<int64_t> active() const;
  // A submitted (not started) run starts: the next Poll reports kStarted, on the placed nodes.
  void Start(int64_t job_id);
  // The same on `node`, the site's choice (a request with LaunchRequest::any_of), when not "".
  void Start(int64_t job_id, const std::string& node);
  // A submitted run waits, in the site's words: the next Poll reports kNote.
  void Note(int64_t job_id, std::string note);
  // A run ends with `exit_code` (0 = success): the next Poll reports kEnded.
  void End(int64_t job_id, int exit_code, std::string reason = "");
  // The same, the event carrying `fields` (e.g. measured energy: kEnergyJoulesField, kEnergySourceField).
  void End(int64_t job_id, int exit_code, std::string reason, std::map<std::string, std::string> fields);
  // The site stops answering (Launch: kUnavailable; Inventory: unhealthy with `reason`) or answers again.
  void SetReachable(bool reachable, std::string reason = "unreachable (scripted)");
  // The next launch fails with this status (nothing started).
  void FailNextLaunch(Status st);
  // The site dies while the next launch is in flight: the run is recorded (not started), the launch
  // returns it unconfirmed, and the site is unreachable with `reason` from then on.
  void LoseNextAnswer(std::string reason);
  void SetNodes(std::vector<SiteNode> nodes);
  // Forgets every run without reporting it (a site that lost its state).
  void LoseAll();
  // Kill requests received so far (job ids in order).
  std::vector<int64_t> kills() const;

 private:
  struct Run;
  mutable std::mutex mu_;
  std::string name_;
  FakeOptions opts_;
  bool reachable_ = true;
  std::string unreachable_reason_;
  std::optional<Status> fail_next_;
  std::optional<std::string> lose_next_;  // LoseNextAnswer's reason
  std::map<int64_t, std::unique_ptr<Run>> runs_;
  std::vector<SiteEvent> events_;
  std::vector<LaunchRequest> launches_;
  std::vector<int64_t> kills_;
};

// The registry's factory for `type: fake`. Keys: nodes (a list of {name, accelerator, accelerators,
// cpus, memory_gib}), starts_at_launch (default true; false gives a Slurm-like backend whose runs
// can be withdrawn until they start), run_seconds (default -1: runs end only when scripted).
Result<std::unique_ptr<SiteBackend>> MakeFakeBackend(const std::string& name, const YAML::Node& block,
                                                     const BackendEnv& env);

}  // namespace cnet::backends
