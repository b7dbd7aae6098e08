// The trace-driven simulator: runs the scheduling core (sched::Scheduler, the same object the
// service runs) on a workload under simulated time. Time-sharing policies decide at round
// boundaries (every round_s); event-driven ones at every arrival and completion. A run is a pure
// function of its inputs and seed. Not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sched/scheduler.h"
#include "sim/trace.h"

namespace cnet {

struct SimOptions {
  Seconds round_s = 360;
  uint64_t seed = 0;
  int64_t measure_first = -1;  // job ids [first, last] are measured; -1: all jobs
  int64_t measure_last = -1;
  Seconds preempt_penalty_s = 0;
  // Called now and then with (fraction done, simulated seconds, jobs finished).
  std::function<void(double, Seconds, size_t)> progress;
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
};

// Runs the workload to completion of the measured jobs (all jobs when no window is set).
// A job the cluster can never run fails the run before it starts, naming its input line.
Result<SimResult> Simulate(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
                           const Workload& workload, const SimOptions& opts);

}  // namespace cnet
