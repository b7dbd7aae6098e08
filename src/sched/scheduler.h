// The scheduling core: admitted jobs, free capacity, and the cycle
//   snapshot -> policy.Decide -> validate and apply.
// The same object runs in the simulator and in the service; time comes in as arguments and
// randomness as an Rng, so a cycle is a pure function of state, time and seed. Not thread-safe.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "perf/perf_model.h"
#include "sched/estimate/candidates.h"
#include "sched/policy.h"

namespace cnet {

struct SchedulerOptions {
  Seconds round_s = 360;
  // No progress for this long after a restart (checkpoint restore), for jobs whose JobSpec sets
  // no restore_s of its own; never charged at a job's first start.
  Seconds preempt_penalty_s = 0;
  bool explain_waiting = false;   // ask policies for a reason for every waiting job
  size_t explain_limit = static_cast<size_t>(-1);  // ... for at most this many per cycle
  // Filters and scorers for every placement; null: the default PlacementRules.
  std::shared_ptr<const PlacementRules> rules;
  // Where a preempted run takes time to stop (the service: real processes): a preempted job keeps
  // holding its gang's capacity, and is not offered to the policy again, until ReleaseStopped.
  // Placements that meet capacity still held so are deferred (CycleResult::deferred), not rejected.
  bool preempted_hold_until_stopped = false;
  bool fill_between_rounds = false;  // Snapshot::fill_between_rounds
  // Jobs' input datasets (JobSpec::inputs): a start on a site lacking some makes no progress for
  // their stage-in first (StageInAt with `economics`' links), as the service's runs copy before
  // their command. Null: no stage-in is charged.
  std::shared_ptr<const StageInSource> stage_in;
  std::shared_ptr<const SiteEconomics> economics;  // null with stage_in: the default links
};

// The JobSpec field an admission failure is about, so callers can point at their input without
// reading the message.
enum class JobField { kNone, kWorkers, kUnit, kTotalSteps, kJobType, kPlacement };

struct CycleResult {
  std::vector<Decision> applied;  // in application order
  std::vector<std::string> rejected;  // decisions that failed validation, with why (a policy bug)
  // Places that wait for preempted runs to stop (preempted_hold_until_stopped), with why; the
  // policy decides again in a later cycle.
  std::vector<std::string> deferred;
  double solve_ms = 0;            // wall time of policy.Decide
};

class Scheduler {
 public:
  Scheduler(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
            SchedulerOptions opts);

  // Resolves the job's rates and queues it. Fails, saying why, when the job type is unknown or no
  // site could ever hold the gang (too many workers, no acceptable type, nodes the placement
  // rules' filters refuse).
  Status Admit(JobSpec spec);
  // The checks and rate resolution of Admit, without queueing: a job record ready to queue. On
  // failure, when `bad` is not null, *bad names the field at fault (kPlacement: the gang's shape
  // and constraints fit no site).
  Result<JobRecord> Prepare(JobSpec spec, JobField* bad = nullptr) const;
  // One cycle at time `now`.
  CycleResult RunCycle(Seconds now, bool round_boundary, Rng& rng);
  // A running job has done all its steps at `now`: releases it and returns its final record.
  JobRecord Complete(JobId id, Seconds now);
  // preempted_hold_until_stopped: the run of preempted job `id` has stopped. Its gang's capacity
  // is free again and the job is offered to the policy again (if still admitted). kNotFound if no
  // preempted run of `id` holds capacity.
  Status ReleaseStopped(JobId id);
  // Jobs whose preempted run is still stopping (preempted_hold_until_stopped), and their gangs.
  bool Stopping(JobId id) const { return stopping_.count(id) > 0; }
  const std::unordered_map<JobId, Placement>& stopping() const { return stopping_; }
  // Carries a stopping run into a new scheduler (the service's model growth): its gang's capacity
  // is taken until ReleaseStopped. kFailedPrecondition if it does not fit.
  Status HoldStopping(JobId id, const Placement& gang);
  // Removes a pending or running job (cancel); returns its record. A run still stopping keeps its
  // capacity until ReleaseStopped.
  Result<JobRecord> Remove(JobId id, Seconds now);
  // Replaces the data residency (model/data_residency.h) of an admitted job after a policy or grant
  // change: later placements, a time-sharing policy's moves of a running job included, honour the
  // new set. A running job is not moved by this call. kNotFound if the job is not admitted.
  Status SetResidency(JobId id, std::shared_ptr<const DataResidency> residency);
  // A node went down (or came back): no new work lands there while it is unusable.
  void SetNodeUsable(NodeId n, bool usable) { capacity_.SetUsable(n, usable); }
  // `twin` models the CPUs of accelerator node `node` (Capacity::SetCpuTwin). Before any job runs.
  void SetCpuTwin(NodeId node, NodeId twin) { capacity_.SetCpuTwin(node, twin); }
  // Packages held by work this scheduler does not place (in the simulator, accelerators shared by
  // fractional jobs, sim/share_lane.h): no placement lands on them until released. Returns false,
  // taking nothing, when `p` does not fit the free capacity (packages or rack power) now.
  [[nodiscard]] bool HoldOutside(const Placement& p) {
    if (!capacity_.CanTake(p)) return false;
    capacity_.Take(p);
    return true;
  }
  void ReleaseOutside(const Placement& p) { capacity_.Give(p); }
  // A rack's power budget in watts (+inf = none): Capacity::SetRackBudgetW.
  void SetRackBudgetW(RackId r, double w) { capacity_.SetRackBudgetW(r, w); }
  // What the policy would decide if `cap` were the free capacity (the running and pending jobs as
  // they are); nothing is applied and no reasons are asked for. For looking ahead of free capacity
  // (service/queue_ahead.h); meaningful for the non-preemptive policies, which keep no memory.
  std::vector<Decision> Preview(Seconds now, const Capacity& cap, Rng& rng);
  // Re-admits a job found running after a restart, on `placement` since `started_s`. Fails if the
  // job is not admissible or the placement no longer fits.
  Status AdoptRunning(JobSpec spec, const Placement& placement, Seconds started_s, Seconds now);

  const JobRecord* Find(JobId id) const;
  const std::vector<JobId>& pending() const { return pending_; }
  const std::vector<JobId>& running() const { return running_; }
  size_t active() const { return jobs_.size(); }
  const Capacity& capacity() const { return capacity_; }
  const Policy& policy() const { return *policy_; }
  const Cluster& cluster() const { return cluster_; }
  const PerfModel& perf() const { return perf_; }
  const SchedulerOptions& options() const { return opts_; }
  const PlacementRules& rules() const { return *opts_.rules; }
  // Bytes every start so far staged in (SchedulerOptions::stage_in).
  double staged_bytes() const { return staged_bytes_; }

 private:
  // The policy's view of the queue over `cap` (the pending and running jobs as they stand now).
  Snapshot MakeSnapshot(Seconds now, const Capacity& cap, bool round_boundary, bool explain) const;
  // Settles progress and releases capacity (`hold`: keeps it in stopping_ until ReleaseStopped).
  void Stop(JobRecord& j, Seconds now, bool hold = false);
  Status Apply(const Decision& d, Seconds now);
  static void Erase(std::vector<JobId>& v, JobId id);
  void InsertPending(JobId id);  // keeps pending_ in (submit time, id) order

  const Cluster& cluster_;
  const PerfModel& perf_;
  std::unique_ptr<Policy> policy_;
  SchedulerOptions opts_;
  Capacity capacity_;
  std::vector<double> rack_idle_w_;  // every rack's draw with nothing running
  std::unordered_map<JobId, JobRecord> jobs_;
  std::vector<JobId> pending_;  // (submit time, id) order
  std::vector<JobId> running_;
  std::unordered_map<JobId, Placement> stopping_;  // preempted runs not yet stopped, and their gangs
  double staged_bytes_ = 0;
  // The stage-in of `spec` on the site of placement `p` (none without SchedulerOptions::stage_in).
  StageIn StageAt(const JobSpec& spec, const Placement& p) const;
};

}  // namespace cnet
