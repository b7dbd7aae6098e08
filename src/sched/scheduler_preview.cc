// Scheduler::Preview: the policy's look at a hypothetical capacity (service/queue_ahead.h).
#include "sched/scheduler.h"

namespace cnet {

std::vector<Decision> Scheduler::Preview(Seconds now, const Capacity& cap, Rng& rng) {
  Capacity at = cap;  // node scorers that depend on time (carbon) read it from the capacity
  at.SetTime(now);
  Snapshot s = MakeSnapshot(now, at, true, false);
  return policy_->Decide(s, rng);
}

}  // namespace cnet
