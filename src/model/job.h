// A job as the scheduling core sees it: a gang of `workers` accelerators that start together or
// not at all, and an amount of work (`total_steps` of its job type). Value type.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/units.h"

namespace cnet {

struct DataResidency;  // model/data_residency.h
// What a job's placement optimises among the candidates (site, type, gang shape) that can run it
// (docs/dispatch.md): the earliest predicted finish, the lowest cost (within the deadline if
// any), the earliest finish within a budget, or the least predicted gCO2eq within the deadline or
// a slowdown bound versus fastest (docs/energy.md).
enum class Objective { kFastest, kCheapest, kBudget, kGreenest };
inline const char* ObjectiveName(Objective o) {
  return o == Objective::kCheapest   ? "cheapest"
         : o == Objective::kBudget   ? "budget"
         : o == Objective::kGreenest ? "greenest"
                                     : "fastest";
}
inline std::optional<Objective> ParseObjective(const std::string& s) {
  if (s == "fastest") return Objective::kFastest;
  if (s == "cheapest") return Objective::kCheapest;
  if (s == "budget") return Objective::kBudget;
  if (s == "greenest") return Objective::kGreenest;
  return std::nullopt;
}

// greenest's slowdown bound when a job states neither a deadline nor max_slowdown: at most 25%
// longer than fastest's predicted time to finish.
constexpr double kDefaultGreenestSlowdown = 1.25;

// One input dataset of a job as the estimates need it (the service's datasets; the simulator's
// trace): its size and the sites holding a copy.
struct InputData {
  std::string name;
  double bytes = 0;
  std::vector<std::string> replicas;  // site names
  std::vector<std::string> paths;     // the copy's path at each of `replicas` (same order; may be empty)
};

struct JobSpec {
  JobId id;
  std::string name;
  std::string tenant = "default";
  std::string job_type;   // a row of the throughput matrix, e.g. "ResNet-50 (batch size 64)";
                          // empty: no model, 1 step/s on every type (steps = estimated seconds)
  JobTypeId type_id;      // resolved by the perf model
  int workers = 1;        // gang size, in accelerator packages
  // Elastic jobs: the gang may run at any size in [min_workers, max_workers] (multiples of
  // `unit`), chosen per round by an elastic policy and changed through checkpoint/restart
  // (docs/elastic.md). 0 (both): rigid, `workers` only. Other policies run `workers`.
  int min_workers = 0;
  int max_workers = 0;
  int unit = 1;           // packages per worker process: each node gets a multiple of this
  std::vector<AccelId> acceptable;    // empty: any accelerator type
  std::vector<SiteId> allowed_sites;  // data residency; empty: any site
  double total_steps = 0;
  Seconds submit_time_s = 0;
  double priority = 1.0;               // weight in fairness policies; larger is more important
  // Seconds without progress after each restart from a checkpoint (unset: the scheduler's
  // preempt_penalty_s), and at the first start (0 unless the input says so: nothing to restore).
  std::optional<Seconds> restore_s;
  Seconds first_start_cost_s = 0;
  std::optional<Seconds> deadline_s;   // absolute time
  Objective objective = Objective::kFastest;
  double budget_usd = 0;               // kBudget: the most the job may cost, in USD
  // kGreenest without a deadline: the predicted time to finish may be at most this multiple of the
  // fastest candidate's (unset: kDefaultGreenestSlowdown).
  std::optional<double> max_slowdown;
  // Optional per-worker host resources (0: not constrained).
  int cpus_per_worker = 0;
  double memory_gib_per_worker = 0;
  // Where the job's input data may go (model/data_residency.h), enforced by the placement rules'
  // ResidencyFilter on every placement; null: no data constraint.
  std::shared_ptr<const DataResidency> residency;
  // Its input datasets (sizes, replicas), for stage-in estimates (sched/estimate/replica_stage_in.h);
  // null: none.
  std::shared_ptr<const std::vector<InputData>> inputs;

  bool Elastic() const { return min_workers > 0 || max_workers > 0; }
  int MinWorkers() const { return min_workers > 0 ? min_workers : workers; }
  int MaxWorkers() const { return max_workers > 0 ? max_workers : workers; }

  bool Accepts(AccelId a) const {
    if (acceptable.empty()) return true;
    for (AccelId x : acceptable)
      if (x == a) return true;
    return false;
  }
  bool AllowsSite(SiteId s) const {
    if (allowed_sites.empty()) return true;
    for (SiteId x : allowed_sites)
      if (x == s) return true;
    return false;
  }
};

}  // namespace cnet
