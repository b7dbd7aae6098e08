// Preemptions of real runs by a time-sharing policy (elastic-hetero's resizes, moves and
// rotations; docs/elastic.md). The scheduler keeps a preempted gang's capacity until its run has
// stopped (SchedulerOptions::preempted_hold_until_stopped). Here, each stop is first recorded in
// the store as a requeue mark, so that a restart still stops the run and requeues the job; only
// then is the site asked to stop the run (SIGTERM, then SIGKILL after the site's grace period). A
// mark the store refuses is retried every tick, and the run is left running until it is recorded.
// When the run has stopped, the reconciler makes the job PREEMPTED (LoopState::Preempted).
// Owned and driven by the control loop's thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "service/loop_state.h"

namespace cnet::service {

class Preemptions {
 public:
  explicit Preemptions(LoopState& st) : st_(st) {}
  // The policy preempted job `id` for `reason` (its decision's reason).
  void Begin(int64_t id, std::string reason);
  // Records the marks not yet recorded and stops their runs.
  void Step();

 private:
  LoopState& st_;
  std::deque<std::pair<int64_t, std::string>> unmarked_;
};

}  // namespace cnet::service
