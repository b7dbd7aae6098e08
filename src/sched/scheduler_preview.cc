// Scheduler::Preview: the policy's look at a hypothetical capacity (service/queue_ahead.h).
#include "sched/scheduler.h"

namespace cnet {

std::vector<Decision> Scheduler::Preview(Seconds now, const Capacity& cap, Rng& rng) {
  Snapshot s = MakeSnapshot(now, cap, true, false);
  return policy_->Decide(s, rng);
}

}  // namespace cnet
