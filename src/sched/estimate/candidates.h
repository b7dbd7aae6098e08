// Candidate estimates: for one job, every (site, accelerator type) the cluster offers, with the
// gang shape it would get there and its predicted start, stage-in, run time, finish, cost and
// energy, or the reason it is rejected. `cnet explain`, `cnet submit --dry-run` and the
// objective's choice (ChooseCandidate) read these; the placement scorers
// (placement/scorers/objective.h) rank with the same formulas. docs/dispatch.md.
//
// Start: now if the gang fits now; else the earliest time at which it fits once running jobs
// release their packages in order of expected finish (releases), so jobs queued ahead of it are
// not counted (a lower bound on a busy site). Run time: remaining steps / the job's rate on that
// type and shape (the perf model's steps/s; for jobs without a type, 1 step/s = its own estimate).
// Finish = start + stage-in + run (stage-in runs as part of the job, before its command).
// Cost = price(site, type) x packages x run hours + egress of the stage-in. Energy = board power
// x packages x run time (kWh; an estimate until measured energy exists). With carbon signals
// (SiteEconomics::carbon, docs/energy.md): gCO2eq = energy x the site's forecast intensity over
// [start + stage-in, finish), issued now; with a tariff, cost also includes energy x the mean
// tariff over the run.
// Pure functions of their arguments; thread-safe over const inputs. No HTTP, no clock.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/cluster.h"
#include "sched/capacity.h"
#include "sched/estimate/economics.h"
#include "sched/job_record.h"
#include "sched/placement/rules.h"

namespace cnet {

class Scheduler;

// Bytes a job needs at a site that the site lacks, per source site. Implemented by the datasets
// (service); none: jobs have no inputs and stage-in is 0.
struct Transfer {
  std::string from_site;
  double bytes = 0;
};
class StageInSource {
 public:
  virtual ~StageInSource() = default;
  // Thread-safe; pure over the source's immutable state.
  virtual std::vector<Transfer> Missing(const JobSpec& job, const std::string& site) const = 0;
};

// Stage-in of `job` at `site`: seconds (transfers one after another) and egress dollars.
struct StageIn {
  Seconds seconds = 0;
  double egress_usd = 0;
  double bytes = 0;
};
StageIn StageInAt(const StageInSource* src, const SiteEconomics& econ, const JobSpec& job, const std::string& site);

// A running job's packages, free again at `at_s`.
struct Release {
  Placement placement;
  Seconds at_s = 0;
};
// The releases of every running job of `s` (expected finishes).
std::vector<Release> RunningReleases(const Scheduler& s);

struct Candidate {
  SiteId site;
  AccelId accel;
  std::string site_name, accel_name;
  std::string rejected;  // "" = feasible; else why (capacity, power cap, quota, type, a filter's reason)
  int nodes = 0;         // gang shape: nodes it spans (feasible only)
  bool predicted_rate = false;  // run time from the perf model's prediction, not a measurement
  Seconds start_s = 0, stage_in_s = 0, run_s = 0, finish_s = 0;  // absolute times; durations
  double stage_in_bytes = 0;
  double cost_usd = 0, egress_usd = 0, energy_kwh = 0;
  double energy_usd = 0;             // the tariff's part of cost_usd (0 without a tariff)
  double g_per_kwh = 0, carbon_g = 0;  // forecast intensity over the run (no signals: kDefaultGPerKwh), emissions
  bool feasible() const { return rejected.empty(); }
};

struct EstimateInput {
  const Cluster* cluster = nullptr;
  const Catalogue* catalogue = nullptr;
  const PlacementRules* rules = nullptr;
  const SiteEconomics* economics = nullptr;
  const Capacity* capacity = nullptr;   // free now (offline nodes withheld)
  std::vector<Release> releases;        // when running jobs free their packages
  const StageInSource* stage_in = nullptr;  // may be null
  // "" when the job's tenant may use `a`, else why not (quota); may be empty (no quotas).
  std::function<std::string(AccelId)> quota;
  Seconds now = 0;
};

// One candidate per (site, type present at the site), sites in cluster order, types in catalogue
// order. `j` carries the job's rates (Scheduler::Prepare) and progress (Remaining(now)).
std::vector<Candidate> EstimateCandidates(const EstimateInput& in, const JobRecord& j);

// The candidate the job's objective picks (index), or -1 if none is feasible.
//   fastest:  earliest finish; ties: lower cost, then list order.
//   cheapest: lowest cost among those finishing by the deadline (all if none is set); none meets
//             it: earliest finish. Ties: earlier finish, then list order.
//   budget:   earliest finish among those costing at most budget_usd; none: the cheapest.
//   greenest: least carbon_g among those finishing by the deadline, or without one, those whose
//             finish - now is at most max_slowdown (default kDefaultGreenestSlowdown) x the
//             earliest finish's; none meets it: earliest finish. Ties: earlier finish, list order.
// `now`: the estimate's time; unset: the earliest start among feasible candidates.
int ChooseCandidate(const std::vector<Candidate>& cands, const JobSpec& job, std::optional<Seconds> now = std::nullopt);
// Why the objective chose cands[chosen] (one line, for explain); "" when chosen < 0.
std::string ChoiceReason(const std::vector<Candidate>& cands, const JobSpec& job, int chosen,
                         std::optional<Seconds> now = std::nullopt);

}  // namespace cnet
