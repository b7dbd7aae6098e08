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
  // packages on a node where an earlier one still waits for more, or may be started by the site.
  std::set<NodeId> blocked;
  for (Active* a : waiting) {
    if (!a->any_of.empty()) {  // booked where the site starts it, once it says so
      for (const std::string& node : a->any_of)
        if (auto id = st_.view.FindFor(st_.sites[a->site].cfg.name, node, false)) blocked.insert(*id);
      continue;
    }
    std::optional<Placement> p = PlacementOf(*a);
    if (!p) continue;
    bool behind = false;
    for (const Slot& sl : p->slots) behind |= blocked.count(sl.node) > 0;
    if (!behind && TryBook(*a, now)) continue;
    for (const Slot& sl : p->slots) blocked.insert(sl.node);
  }
}

std::optional<Placement> QueueAhead::RoomFor(const Active& a) const {
  std::optional<Placement> want = PlacementOf(a);
  if (!want || want->slots.size() != 1) return std::nullopt;
  const Capacity& cap = st_.sched->capacity();
  std::optional<Placement> best;
  int best_free = 0;
  for (const std::string& node : a.any_of) {
    std::optional<NodeId> id = st_.view.FindFor(st_.sites[a.site].cfg.name, node, false);
    if (!id || !cap.Usable(*id)) continue;
    Placement p = *want;
    p.slots.front().node = *id;
    if (cap.CanTake(p) && (!best || cap.Free(*id) < best_free)) {
      best = std::move(p);
      best_free = cap.Free(*id);
    }
  }
  return best;
}

QueueAhead::Fenced QueueAhead::Fence() {
  Fenced f;
  std::vector<Active*> pinned;
  for (Active* a : Waiting()) {
    if (a->any_of.empty() || a->state != JobState::kScheduled) {
      pinned.push_back(a);
    } else if (std::optional<Placement> room = RoomFor(*a); room && st_.sched->HoldOutside(*room)) {
      f.held.push_back(std::move(*room));
    }
  }
  for (Active* a : pinned) {
    std::optional<Placement> p = PlacementOf(*a);
    if (!p) continue;
    // Only nodes with packages free: a full node takes nothing anyway, and one marked unusable
    // would read as down in the policy's reasons (backfill reserves on usable nodes only).
    for (const Slot& sl : p->slots)
      if (st_.sched->capacity().Usable(sl.node) && st_.sched->capacity().Free(sl.node) > 0) {
        st_.sched->SetNodeUsable(sl.node, false);
        f.nodes.push_back(sl.node);
      }
  }
  return f;
}

void QueueAhead::Unfence(const Fenced& fenced) {
  for (NodeId n : fenced.nodes) st_.sched->SetNodeUsable(n, true);
  for (const Placement& p : fenced.held) st_.sched->ReleaseOutside(p);
}

std::vector<std::string> QueueAhead::AnyOf(int site, const Active& a, const Placement& p) const {
  std::vector<std::string> out;
  if (!st_.sites[site].caps.chooses_node || p.slots.size() != 1 || p.accel == st_.admission.cpu_type()) return out;
  const Node& placed = st_.cluster->node(p.slots.front().node);
  const int need = p.slots.front().count;
  for (NodeId id : st_.cluster->NodesWith(p.accel)) {
    const Node& n = st_.cluster->node(id);
    if (n.rack != placed.rack || n.accel_count < need || !st_.sched->capacity().Usable(id)) continue;
    if (!st_.sched->rules().AllowsNode(a.spec, n)) continue;
    out.push_back(st_.view.Origin(id).node);
  }
  if (out.size() < 2) out.clear();
  return out;
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
      a->any_of = AnyOf(site, *a, d.placement);
      ids_.insert(a->id);
      st_.jobs.Restand(*a);
      d.reason = "queued ahead on " + name +
                 (a->any_of.empty() ? " (starts when its nodes free): "
                                    : " (starts on the first of " + std::to_string(a->any_of.size()) + " nodes to free): ") +
                 d.reason;
      if (!a->any_of.empty()) st_.metrics.Inc("cnet_queue_ahead_site_placed_total", "");
      out.push_back(std::move(d));
      --room;
    }
  }
  return out;
}

}  // namespace cnet::service
