#include "service/queue_ahead.h"

#include <set>

#include "sched/placement.h"

namespace cnet::service {

using store::JobState;

bool QueueAhead::Eligible(int site) const {
  const SiteRuntime& s = st_.sites[site];
  // A time-sharing policy (elastic-hetero) re-plans every gang each round: no booking ahead.
  if (st_.sched->policy().time_sharing()) return false;
  return s.cfg.queue_ahead > 0 && s.caps.can_withdraw && !s.caps.starts_at_launch && s.inventory.healthy;
}

std::optional<Placement> QueueAhead::PlacementOf(const Active& a) const {
  if (a.site < 0 || a.shape.empty()) return std::nullopt;
  const std::string& site = st_.sites[a.site].cfg.name;
  Placement p;
  for (const backends::NodeShare& share : a.shape) {
    auto node = st_.view.FindFor(site, share.node, st_.admission.CpuOnly(a.spec));
    if (!node) return std::nullopt;
    p.accel = st_.cluster->node(*node).accel;
    p.slots.push_back(Slot{*node, share.workers * std::max(1, a.spec.unit)});
  }
  return WithHostCpus(std::move(p), a.spec);
}

std::vector<Active*> QueueAhead::Waiting() {
  if (!scanned_) {  // jobs recovery marked (queue_ahead.h): once, then only what Choose adds
    scanned_ = true;
    for (const auto& [id, a] : st_.jobs.jobs())
      if (a->ahead) ids_.insert(id);
  }
  std::vector<Active*> out;
  for (auto it = ids_.begin(); it != ids_.end();) {
    Active* a = st_.jobs.Find(*it);
    if (!a || !a->ahead || a->in_sched) {
      it = ids_.erase(it);
      continue;
    }
    out.push_back(a);
    ++it;
  }
  return out;
}

int QueueAhead::Queued(int site) {
  int n = 0;
  for (Active* a : Waiting())
    if (a->site == site && a->state == JobState::kScheduled) ++n;
  return n;
}

bool QueueAhead::TryBook(Active& a, double now) {
  std::optional<Placement> p = PlacementOf(a);
  if (!p || !st_.sched->capacity().CanTake(*p)) return false;
  Status s = st_.sched->AdoptRunning(a.spec, *p, now, now);
  if (!s.ok()) {
    st_.log->warn("job {}: booking its queued-ahead placement: {}", a.id, s.message());
    return false;
  }
  a.in_sched = true;
  a.ahead = false;
  st_.jobs.Restand(a);
  st_.dirty = true;
  st_.metrics.Inc("cnet_queue_ahead_booked_total", "");
  return true;
}

void QueueAhead::Book() {
  const double now = st_.clock.Now();
  std::vector<Active*> waiting;
  // Started by the site first: it runs there, whatever the order. One whose packages the model
  // still holds for an ended job (its end not read yet) is booked on a later tick. Launching
  // ones too: the run may start any moment.
  for (Active* a : Waiting()) {
    if (a->state == JobState::kRunning) (void)TryBook(*a, now);  // false: a later tick
    else if (a->state == JobState::kScheduled) waiting.push_back(a);
  }
  // Then in job id order, as the site's own queue orders them (age): a later job does not take
  // packages on a node where an earlier one still waits for more.
  std::set<NodeId> blocked;
  for (Active* a : waiting) {
    std::optional<Placement> p = PlacementOf(*a);
    if (!p) continue;
    bool behind = false;
    for (const Slot& sl : p->slots) behind |= blocked.count(sl.node) > 0;
    if (!behind && TryBook(*a, now)) continue;
    for (const Slot& sl : p->slots) blocked.insert(sl.node);
  }
}

std::vector<NodeId> QueueAhead::Fence() {
  std::vector<NodeId> fenced;
  for (Active* a : Waiting()) {
    std::optional<Placement> p = PlacementOf(*a);
    if (!p) continue;
    // Only nodes with packages free: a full node takes nothing anyway, and one marked unusable
    // would read as down in the policy's reasons (backfill reserves on usable nodes only).
    for (const Slot& sl : p->slots)
      if (st_.sched->capacity().Usable(sl.node) && st_.sched->capacity().Free(sl.node) > 0) {
        st_.sched->SetNodeUsable(sl.node, false);
        fenced.push_back(sl.node);
      }
  }
  return fenced;
}

void QueueAhead::Unfence(const std::vector<NodeId>& fenced) {
  for (NodeId n : fenced) st_.sched->SetNodeUsable(n, true);
}

std::vector<Decision> QueueAhead::Choose() {
  std::vector<Decision> out;
  for (size_t i = 0; i < st_.sites.size(); ++i) {
    const int site = static_cast<int>(i);
    if (!Eligible(site) || st_.sched->pending().empty()) continue;
    int room = st_.sites[i].cfg.queue_ahead - Queued(site);
    if (room <= 0) continue;
    const std::string& name = st_.sites[i].cfg.name;
    // The site as it will be once its running jobs end, less what ahead jobs are pinned to.
    Capacity cap = st_.sched->capacity();
    for (JobId id : st_.sched->running()) {
      const Placement& p = st_.sched->Find(id)->placement;
      if (!p.empty() && st_.view.Origin(p.slots.front().node).site == name) cap.Give(p);
    }
    for (Active* a : Waiting())
      if (a->site == site)
        if (std::optional<Placement> p = PlacementOf(*a); p && cap.CanTake(*p)) cap.Take(*p);
    Rng rng = st_.rng;  // a copy: a preview never moves the real stream
    for (Decision& d : st_.sched->Preview(st_.clock.Now(), cap, rng)) {
      if (room <= 0) break;
      if (d.action != Action::kPlace || d.placement.empty()) continue;
      if (st_.view.Origin(d.placement.slots.front().node).site != name) continue;
      Active* a = st_.jobs.Find(d.job.value());
      if (!a || !a->in_sched) continue;
      st_.LeaveScheduler(*a);
      a->ahead = true;
      ids_.insert(a->id);
      st_.jobs.Restand(*a);
      d.reason = "queued ahead on " + name + " (starts when its nodes free): " + d.reason;
      out.push_back(std::move(d));
      --room;
    }
  }
  return out;
}

}  // namespace cnet::service
