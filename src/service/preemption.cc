#include "service/preemption.h"

namespace cnet::service {

void Preemptions::Begin(int64_t id, std::string reason) {
  Active* a = st_.jobs.Find(id);
  if (!a) return;
  a->preempting = true;  // from now on its run's end is a preemption (reconciler.cc)
  unmarked_.emplace_back(id, std::move(reason));
}

void Preemptions::Step() {
  for (size_t n = unmarked_.size(); n > 0; --n) {
    auto [id, reason] = std::move(unmarked_.front());
    unmarked_.pop_front();
    Active* a = st_.jobs.Find(id);
    if (!a || !a->preempting || a->cancel_requested) continue;  // ended or cancelled meanwhile
    const std::string by = "the scheduler: " + reason;
    if (!a->requeue_requested) {
      Status mark = st_.store.SetReason(id, std::string(kRequeueMark) + by);
      if (!mark.ok()) {
        st_.log->warn("job {}: preemption not recorded yet ({}); its run goes on until it is", id, mark.message());
        unmarked_.emplace_back(id, std::move(reason));
        continue;
      }
      a->requeue_requested = true;
      a->requeued_by = by;
    }
    if (Status k = st_.StopRun(*a, "preempted: " + reason); !k.ok()) {  // asked again next tick
      st_.log->warn("job {}: stopping its run for a preemption: {}", id, k.message());
      unmarked_.emplace_back(id, std::move(reason));
    }
  }
}

}  // namespace cnet::service
