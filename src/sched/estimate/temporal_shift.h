// Temporal shifting (docs/energy.md): a job with a deadline may wait for a lower-carbon window that
// the forecast predicts, at any site and type it may use. It waits only if it is still predicted
// to finish by its deadline with a margin: every start considered is at most
//   deadline - run x (1 + margin) - margin_s
// on the option it would run on, so waiting never makes it miss the deadline unless the run takes
// longer than predicted by more than the margin, or the capacity is taken when it starts.
// The plan is made once, with the forecast issued at `now`. Pure; thread-safe over const inputs.
#pragma once

#include <string>
#include <vector>

#include "model/cluster.h"
#include "sched/estimate/site_carbon.h"
#include "sched/job_record.h"
#include "sched/placement/rules.h"

namespace cnet {

struct ShiftOptions {
  Seconds step_s = 900;             // start times considered: now, now + step, ...
  Seconds horizon_s = 48 * 3600;    // ... up to now + horizon (forecasts further ahead are poor)
  double min_gain = 0.05;           // wait only to save at least this fraction of starting now
  double margin = 0.10;             // of the predicted run time
  Seconds margin_s = 1800;
};

// Where and how long a job could run: one (site, type) it may use.
struct ShiftOption {
  std::string site;
  AccelId accel;
  std::string accel_name;
  Seconds run_s = 0;
  double energy_kwh = 0;
};

struct ShiftPlan {
  bool wait = false;
  Seconds start_s = 0;        // when to start (now when not waiting)
  std::string site, accel;    // the option the planned start is for
  double g_now = 0;           // least predicted gCO2eq starting now (over options meeting the deadline)
  double g_planned = 0;       // ... at the planned start
  Seconds latest_start_s = 0; // the planned option's latest safe start
  std::string reason;         // what it waits for and until when, or why it does not wait
  // Every start time the plan weighed (now, now + step_s, ...) with the least predicted gCO2eq of
  // the options that may still start then and meet the deadline; empty without a deadline.
  struct Considered {
    Seconds start_s = 0;
    double g = 0;
    std::string site, accel;  // the option that least
  };
  std::vector<Considered> considered;
};

// The (site, type) options of job `j` at `now`: every type the rules allow with a rate > 0, at
// every site where a node of that type is allowed. Run time from the one-node rate (the spread
// rate for gangs larger than any node).
std::vector<ShiftOption> ShiftOptionsFor(const JobRecord& j, const Cluster& cl, const Catalogue& cat,
                                         const PlacementRules& rules, Seconds now);

// The plan for a job with a deadline (no deadline: no slack, start now).
ShiftPlan PlanStart(const SiteCarbon& carbon, const std::vector<ShiftOption>& options, const JobSpec& job, Seconds now,
                    const ShiftOptions& o);

}  // namespace cnet
