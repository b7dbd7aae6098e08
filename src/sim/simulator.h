// The trace-driven simulator: runs the scheduling core (sched::Scheduler, the same object the
// service runs) on a workload under simulated time. Time-sharing policies decide at round
// boundaries (every round_s); event-driven ones at every arrival and completion. A run is a pure
// function of its inputs and seed. Not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sched/estimate/economics.h"
#include "sched/estimate/temporal_shift.h"
#include "sched/scheduler.h"
#include "sched/placement/gpu_share.h"
#include "sim/trace.h"

namespace cnet {

struct SimOptions {
  Seconds round_s = 360;
  uint64_t seed = 0;
  int64_t measure_first = -1;  // job ids [first, last] are measured; -1: all jobs
  int64_t measure_last = -1;
  Seconds preempt_penalty_s = 0;  // default restore cost (JobSpec::restore_s overrides)
  bool record_jobs = false;       // fill SimResult::jobs
  Seconds util_interval_s = 0;    // > 0: fill SimResult::util, a sample at most this often
  // Site prices and network (docs/dispatch.md); null: catalogue prices. With it, cost_usd is the
  // busy package-hours at each site's price.
  std::shared_ptr<const SiteEconomics> economics;
  // Every job's objective; set (or economics set): the objective scorers place jobs, as in the
  // service (placement/scorers/objective.h).
  std::optional<Objective> objective;
  // With the scorers: keep the policy's own type order (only the node scorer), as the service
  // does for cost-hetero.
  bool keep_policy_type_order = false;
  // Jobs with inputs (JobSpec::inputs, sim/datasets.h) always pay their stage-in at each start;
  // data-aware placement lets the objective's scorers count it too (as the service does), false
  // places by compute alone (the baseline it is compared with).
  bool data_aware = true;
  // Temporal shifting (estimate/temporal_shift.h; needs economics with carbon signals): a greenest
  // job with a deadline is held until the start its plan picks, then admitted. JCT still counts
  // from its submission.
  std::optional<ShiftOptions> shift;
  // Gives a deadline to `fraction` of the jobs (chosen by a hash of the job id and seed):
  // submit + slack x its run time alone on its fastest type. fraction 0: jobs keep their own.
  struct Deadlines {
    double fraction = 0, slack = 3;
    uint64_t seed = 0;
  } deadlines;
  // Fractional jobs (Workload::share_milli; sim/share_lane.h, docs/sharing.md): the scorer that
  // places them, and the demand mix their fragmentation is measured against (empty: the
  // workload's own, WorkloadMix).
  ShareScorer share_scorer = ShareScorer::kBestFit;
  DemandMix share_mix;
  // After every event, check that no accelerator is over-committed (ShareLane::Check); a
  // violation fails the run. For tests: it costs a pass over every accelerator.
  bool check_invariants = false;
  // Called now and then with (fraction done, simulated seconds, jobs finished).
  std::function<void(double, Seconds, size_t)> progress;
};

// One completed job, for `--jobs-out`.
struct JobOutcome {
  int64_t id = 0;
  Seconds submit_s = 0, start_s = 0, end_s = 0;  // start: first start
  std::vector<std::string> types;  // accelerator types it ran on, in first-use order
  int max_nodes = 0;               // most nodes of any of its placements
  int preemptions = 0;
  bool predicted = false;          // ran at a throughput the matrix did not measure
};

// Accelerators of one type at one time, for `--util-out`. idle = free and usable; fragmented:
// the part of idle that the waiting work cannot use (jobs wait that accept the type, and none of
// them fits in the free packages of that type: scattered over nodes, or power-capped); 0 when no
// waiting job accepts the type. With fractional jobs in the workload, counts are in accelerators
// with shares (allocated: the sum of shares; idle: free capacity, partly used accelerators
// included) and fragmented is FGD's measure against the demand mix (SimOptions::share_mix).
struct UtilSample {
  Seconds t = 0;
  std::string type;
  int total = 0;
  double allocated = 0, idle = 0, fragmented = 0;
};

struct SimResult {
  std::string policy;
  std::string workload;
  size_t jobs_total = 0, jobs_completed = 0, jobs_measured = 0;
  double avg_jct_hours = 0, p50_jct_hours = 0, p99_jct_hours = 0;
  double makespan_hours = 0;
  std::map<std::string, double> utilization;  // accelerator type -> busy fraction
  double energy_kwh = 0;
  double cost_usd = 0;
  double avg_ftf_ratio = 0;  // mean JCT / runtime alone on the job's fastest type
  double solve_ms_p50 = 0, solve_ms_max = 0;
  size_t cycles = 0, preemptions = 0;
  double wall_seconds = 0;
  std::vector<std::string> predicted;  // "job type on accelerator" figures that were predicted
  std::vector<double> jct_hours;        // measured jobs, by id
  // With carbon signals (economics->carbon()): emissions of the busy packages (board power x busy
  // time x the site's true intensity over each stint), and that busy energy.
  double carbon_g = 0, busy_energy_kwh = 0;
  double stage_in_tb = 0;  // input data moved to the sites jobs started on (decimal TB)
  size_t deadline_jobs = 0, deadline_misses = 0;  // completed jobs with a deadline; finished after it
  size_t shifted = 0;                             // jobs held for a lower-carbon window
  double shift_wait_hours = 0;                    // their total hold time
  std::vector<JobOutcome> jobs;         // completed jobs in completion order (opts.record_jobs)
  std::vector<UtilSample> util;         // opts.util_interval_s > 0
};

// Runs the workload to completion of the measured jobs (all jobs when no window is set).
// A job the cluster can never run fails the run before it starts, naming its input line.
Result<SimResult> Simulate(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
                           const Workload& workload, const SimOptions& opts);

}  // namespace cnet
