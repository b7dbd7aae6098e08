// What the scheduling core knows about one job: its spec, where it runs, and its progress.
// Progress is piecewise linear: steps(t) = steps_at_anchor + rate * (t - max(anchor, penalty_until)).
// Value type; owned by the Scheduler, read by policies through the Snapshot.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "model/job.h"
#include "sched/placement_types.h"

namespace cnet {

enum class JobPhase { kPending, kRunning, kFinished };

struct JobRecord {
  JobSpec spec;
  JobPhase phase = JobPhase::kPending;
  Placement placement;  // valid while running

  // Throughput (steps/s) of this job's gang per accelerator type (index = AccelId), on one node
  // and spread over several; 0 where it cannot run. `predicted` marks model estimates.
  std::vector<double> rate;
  std::vector<double> rate_spread;
  std::vector<bool> predicted;
  // Elastic jobs: the gang sizes a policy may choose (ascending, `spec.workers` among them) and
  // their rates, [k * types + a] for sizes[k]; rigid jobs: sizes = {workers}, tables empty.
  std::vector<int> sizes;
  std::vector<double> size_rate;
  std::vector<double> size_rate_spread;

  // Progress.
  double steps_at_anchor = 0;
  Seconds anchor_s = 0;
  Seconds penalty_until_s = 0;  // checkpoint restore in progress until then
  double rate_now = 0;          // steps/s on the current placement

  Seconds first_start_s = -1;
  Seconds finish_s = -1;
  Seconds attained_s = 0;  // accelerator-seconds received (workers x wall time), settled at stops
  int preemptions = 0;
  int starts = 0;
  std::string reason;  // the scheduler's latest word on this job
  Seconds estimated_start = -1;  // with that word: its reservation's expected start; < 0 none

  double StepsDone(Seconds now) const {
    if (phase != JobPhase::kRunning) return steps_at_anchor;
    double from = std::max(anchor_s, penalty_until_s);
    return std::min(spec.total_steps, steps_at_anchor + rate_now * std::max(0.0, now - from));
  }
  double Remaining(Seconds now) const { return std::max(0.0, spec.total_steps - StepsDone(now)); }
  // Completion time on the current placement (running jobs only).
  Seconds ExpectedFinish() const {
    double from = std::max(anchor_s, penalty_until_s);
    return from + std::max(0.0, spec.total_steps - steps_at_anchor) / rate_now;
  }
  // Rate for a placement of type a over `nodes` nodes.
  double RateOn(AccelId a, int nodes) const {
    return nodes > 1 ? rate_spread[a.value()] : rate[a.value()];
  }
  // Rate of a gang of `workers` (one of `sizes`) of type a over `nodes` nodes; 0 for a size the
  // job cannot take.
  double RateAt(AccelId a, int workers, int nodes) const {
    if (workers == spec.workers) return RateOn(a, nodes);
    const size_t types = rate.size();
    for (size_t k = 0; k < sizes.size() && !size_rate.empty(); ++k)
      if (sizes[k] == workers) return (nodes > 1 ? size_rate_spread : size_rate)[k * types + a.value()];
    return 0;
  }
  bool TakesSize(int workers) const {
    return std::find(sizes.begin(), sizes.end(), workers) != sizes.end();
  }
  // Best single-node rate over all types.
  double BestRate() const { return rate.empty() ? 0 : *std::max_element(rate.begin(), rate.end()); }
};

}  // namespace cnet
