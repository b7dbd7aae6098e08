// Scheduler::Preview: the policy's look at a hypothetical capacity (service/queue_ahead.h).
#include "sched/scheduler.h"

namespace cnet {

std::vector<Decision> Scheduler::Preview(Seconds now, const Capacity& cap, Rng& rng) {
  Snapshot s;
  s.now = now;
  s.round_s = opts_.round_s;
  s.round_boundary = true;
  s.explain_waiting = false;
  s.cluster = &cluster_;
  s.catalogue = &perf_.catalogue();
  s.capacity = &cap;
  s.rules = opts_.rules.get();
  s.pending.reserve(pending_.size());
  for (JobId id : pending_) s.pending.push_back(&jobs_.at(id));
  s.running.reserve(running_.size());
  for (JobId id : running_) s.running.push_back(&jobs_.at(id));
  return policy_->Decide(s, rng);
}

}  // namespace cnet
