// The state the control loop owns, and the small operations on it that the loop's pieces
// (dispatcher, reconciler, recovery) share: entering and leaving the scheduler, requeueing,
// finishing. Loop thread only, except where a member says otherwise.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>

#include "backends/site_backend.h"
#include "common/clock.h"
#include "common/rng.h"
#include "sched/estimate/replica_stage_in.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "service/admission.h"
#include "service/cluster_view.h"
#include "service/config.h"
#include "service/job_table.h"
#include "service/metrics.h"
#include "service/power_budget.h"
#include "service/tenant_ledger.h"
#include "store/store.h"

namespace cnet::service {

struct SiteRuntime {
  SiteConfig cfg;
  std::unique_ptr<backends::SiteBackend> backend;
  backends::Capabilities caps;
  backends::SiteInventory inventory;  // as last seen
  double next_inventory = 0;
  double unhealthy_since = 0;         // 0: healthy
};

struct LoopState {
  LoopState(const ServiceConfig& c, const Clock& cl, std::shared_ptr<spdlog::logger> lg, store::Store& s,
            Metrics& m, const Catalogue& ca, const PerfModel& p, const Admission& ad, TenantLedger& le,
            const PolicyRegistry& po);

  const ServiceConfig& cfg;
  const Clock& clock;
  std::shared_ptr<spdlog::logger> log;
  store::Store& store;
  Metrics& metrics;
  const Catalogue& cat;
  const PerfModel& perf;
  const Admission& admission;
  TenantLedger& ledger;
  const PolicyRegistry& policies;

  std::vector<SiteRuntime> sites;
  std::map<std::string, int> site_index;
  ClusterView view;
  std::shared_ptr<const Cluster> cluster;
  std::unique_ptr<Scheduler> sched;
  // Filters and scorers of every scheduler the loop builds (and of the admission probe): the
  // defaults plus the job objective's scorers (placement/scorers/objective.h). Built once.
  std::shared_ptr<const PlacementRules> rules;
  // Stage-in of jobs' input datasets, for the rules' objective scorers and explain. Immutable.
  std::shared_ptr<const ReplicaStageIn> stage_in;
  JobTable jobs;
  std::map<std::string, std::deque<int64_t>> held;  // tenant -> jobs waiting outside the scheduler
  std::unordered_map<int64_t, std::string> notes;   // dispatched jobs: the site's word (kNote)
  bool notes_changed = false;
  bool dirty = true;                                // something changed: run a scheduling cycle
  uint64_t finished = 0;                            // jobs Finish ended (service/gates.h reads it)
  Rng rng{0};
  PowerBudgets power;  // each site's power budget over time (thread-safe: admins set overrides)

  // The admission model; HTTP threads read it through Model().
  void PublishModel();
  std::shared_ptr<const ModelSnapshot> Model() const;

  int SiteOf(const std::string& name) const;
  Standing StandingOf(const Active& a) const;
  // Queues a job outside the scheduler (front: ahead of the tenant's newer jobs).
  void Hold(Active& a, const std::string& reason, bool front);
  // Removes a job from the scheduler (if in it) and frees its placement.
  void LeaveScheduler(Active& a);
  // Back to PENDING after a run was lost or withdrawn unstarted. A store failure leaves the job as
  // it was (and is logged); the caller sees the Status.
  Status Requeue(Active& a, const std::string& reason);
  // Asks a's site to stop its run for `why` (a cancel, a requeue, a preemption). Not while its
  // launch is in flight: the dispatcher stops it once the launch result is in. A run the site no
  // longer has counts as stopped. kUnavailable (naming the site) when the site did not take it.
  Status StopRun(Active& a, const std::string& why);
  // The stopped run of a preempting job (Active::preempting): PREEMPTED, its gang's capacity free,
  // waiting in the scheduler for the policy's next placement. A store failure leaves it as it was.
  Status Preempted(Active& a, const std::string& site_reason);
  // To a terminal state; leaves the scheduler first. `energy`: joules and source the site measured.
  Status Finish(Active& a, store::JobState to, const std::string& reason, std::optional<int> exit_code,
                std::optional<double> end = std::nullopt,
                std::optional<std::pair<double, std::string>> energy = std::nullopt);
  // Finish in two parts, for a caller that commits several jobs' transitions at once: the
  // transition to commit, and what follows its commit (the job leaves the scheduler and the table).
  Transition FinishTransition(const Active& a, store::JobState to, const std::string& reason,
                              std::optional<int> exit_code, std::optional<double> end = std::nullopt,
                              std::optional<std::pair<double, std::string>> energy = std::nullopt) const;
  void Finished(Active& a, const Transition& committed);
  // Rebuilds the scheduler over the grown cluster, carrying its jobs and node states.
  Status RebuildModel();
  // The variable through which a job's workers see their devices on `site`.
  std::string DeviceEnv(int site, AccelId accel) const;

 private:
  mutable std::mutex model_mu_;
  std::shared_ptr<const ModelSnapshot> model_;
};

}  // namespace cnet::service
