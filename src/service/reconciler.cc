#include "service/reconciler.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/strings.h"
#include "service/dispatcher.h"

namespace cnet::service {

using backends::SiteEvent;
using store::JobState;

namespace {

// The energy a kEnded event carries, if any and well formed.
std::optional<std::pair<double, std::string>> MeasuredEnergy(const SiteEvent& e) {
  auto j = e.fields.find(backends::kEnergyJoulesField), src = e.fields.find(backends::kEnergySourceField);
  if (j == e.fields.end() || src == e.fields.end() || src->second.empty()) return std::nullopt;
  std::optional<double> v = ParseDouble(j->second);
  if (!v || !std::isfinite(*v) || *v < 0) return std::nullopt;
  return std::make_pair(*v, src->second);
}

// The stage-in a kEnded event reports (backends/stage_in.h), into the row's update.
void AddStageIn(const SiteEvent& e, store::Store::Update& u) {
  auto b = e.fields.find(backends::kStageInBytesField), s = e.fields.find(backends::kStageInSecondsField);
  if (b == e.fields.end() || s == e.fields.end()) return;
  std::optional<double> bytes = ParseDouble(b->second), secs = ParseDouble(s->second);
  if (!bytes || !secs || !std::isfinite(*bytes) || !std::isfinite(*secs) || *bytes < 0 || *secs < 0) return;
  u.stage_in_bytes = *bytes;
  u.stage_in_s = *secs;
}

}  // namespace

std::optional<std::vector<backends::NodeShare>> Reconciler::SiteChoice(const Active& a, const SiteEvent& e) const {
  if (a.any_of.empty() || a.shape.size() != 1) return std::nullopt;
  const std::string& site = st_.sites[a.site].cfg.name;
  if (e.nodes.size() != 1 || !st_.view.FindFor(site, e.nodes.front(), st_.admission.CpuOnly(a.spec))) {
    st_.log->warn("job {}: {} started it without naming one known node ({}): kept on {}", a.id, site,
                  e.nodes.size(), a.shape.front().node);
    return std::nullopt;
  }
  return std::vector<backends::NodeShare>{{e.nodes.front(), a.shape.front().workers}};
}

void Reconciler::ApplySiteEvents() {
  std::vector<std::pair<int, SiteEvent>> retry;
  retry.swap(retry_);
  for (auto& [site, e] : retry)
    if (!ApplyOne(site, e)) retry_.emplace_back(site, e);
  for (size_t i = 0; i < st_.sites.size(); ++i) Apply(static_cast<int>(i), st_.sites[i].backend->Poll(st_.clock.Now()));
}

void Reconciler::Apply(int site, std::vector<SiteEvent> events) {
  for (SiteEvent& e : events) {
    Active* a = st_.jobs.Find(e.job_id);
    if (!a) continue;
    if (a->launching) {  // its launch result is not in yet: keep the event until it is
      a->early_events.push_back(std::move(e));
      continue;
    }
    if (!ApplyOne(site, e)) retry_.emplace_back(site, std::move(e));
  }
}

bool Reconciler::ApplyOne(int site, const SiteEvent& e) {
  Active* a = st_.jobs.Find(e.job_id);
  if (!a || a->site != site) return true;  // not ours (any more): nothing to do
  const std::string& name = st_.sites[site].cfg.name;
  switch (e.kind) {
    case SiteEvent::kNote:
      a->unconfirmed = false;  // the site has it
      st_.notes[e.job_id] = "submitted to " + name + "; " + e.reason;
      st_.notes_changed = true;
      return true;
    case SiteEvent::kRequeue:
      return st_.Requeue(*a, "requeued: " + e.reason).ok();
    case SiteEvent::kStarted: {
      a->unconfirmed = false;
      if (a->state != JobState::kScheduled) return true;
      Transition t{a->id, JobState::kRunning, e.reason.empty() ? "running on " + name : e.reason, st_.clock.Now(), {}};
      t.update.start_time = t.time;
      if (!e.handle.empty()) t.update.runtime_json = e.handle;
      std::optional<std::vector<backends::NodeShare>> chosen = SiteChoice(*a, e);
      if (chosen) t.update.placement_json = PlacementJson(name, a->accelerator, *chosen, {});
      if (st_.notes.erase(a->id)) st_.notes_changed = true;
      Status s = st_.jobs.Apply(t);
      if (!s.ok()) st_.log->warn("job {}: start not recorded: {}", a->id, s.message());
      if (s.ok() && !a->any_of.empty()) {  // from now on it is where the site said (or stays pinned)
        if (chosen) a->shape = std::move(*chosen);
        a->any_of.clear();
      }
      return s.ok();
    }
    case SiteEvent::kEnded: {
      if (a->preempting && !a->cancel_requested && !e.success)  // the policy's resize, move or rotation
        return st_.Preempted(*a, e.reason).ok();
      if (a->requeue_requested && !a->cancel_requested && !a->preempting)  // a user's requeue: it waits again
        return st_.Requeue(*a, "requeued by " + a->requeued_by + (e.reason.empty() ? "" : " (" + e.reason + ")")).ok();
      JobState to = a->cancel_requested ? JobState::kCancelled
                    : e.success         ? JobState::kSucceeded
                    : e.timed_out       ? JobState::kTimeout
                    : e.oom_killed      ? JobState::kOom
                                        : JobState::kFailed;
      std::string why = a->cancel_requested ? "cancelled: " + e.reason
                        : e.success         ? (e.reason.empty() ? "exit code 0" : e.reason)
                                            : e.reason;
      auto energy = MeasuredEnergy(e);
      if (!energy && e.fields.count(backends::kEnergyJoulesField))
        st_.log->warn("job {}: site {} reported energy '{}', not a number of joules: estimated instead", a->id, name,
                      e.fields.at(backends::kEnergyJoulesField));
      Transition t = st_.FinishTransition(*a, to, why, e.exit_code, std::nullopt, energy);
      AddStageIn(e, t.update);
      Status s = st_.jobs.Apply(t);
      if (!s.ok()) {  // nothing moved; retried next tick
        st_.log->error("job {}: {} not recorded: {}", a->id, store::StateName(to), s.message());
        return false;
      }
      st_.Finished(*a, t);
      return true;
    }
  }
  return true;
}

void Reconciler::Grow(int site, backends::SiteInventory& inv) {
  SiteRuntime& s = st_.sites[site];
  const size_t before = st_.view.size();
  std::set<std::string> seen;
  for (const auto& n : inv.nodes) {
    seen.insert(n.name);
    if (st_.view.Find(s.cfg.name, n.name)) continue;
    Status st = st_.view.Add(s.cfg.name, s.cfg.region, s.cfg.power_cap_kw, n);
    if (!st.ok()) inv.reason = "node " + n.name + " ignored: " + st.message();
  }
  if (st_.view.size() > before) {
    Status st = st_.RebuildModel();
    if (st.ok()) {
      st_.metrics.Inc("cnet_site_nodes_added_total", "site=\"" + s.cfg.name + "\"", static_cast<double>(st_.view.size() - before));
      st_.log->info("site {}: {} node(s) joined the model", s.cfg.name, st_.view.size() - before);
    } else {
      st_.view.Truncate(before);
      inv.reason = "new nodes not taken in: " + st.message();
      st_.log->error("site {}: {}", s.cfg.name, inv.reason);
    }
  }
  // Nodes the site no longer reports take no new work.
  for (const Node& n : st_.cluster->nodes()) {
    const NodeOrigin& o = st_.view.Origin(n.id);
    if (o.site == s.cfg.name && !seen.count(o.node)) {
      backends::SiteNode gone;
      gone.name = o.node;
      gone.usable = false;
      gone.reason = "no longer reported by the site";
      inv.nodes.push_back(gone);
    }
  }
}

void Reconciler::TakeInventory(int site, backends::SiteInventory inv) {
  SiteRuntime& s = st_.sites[site];
  const double now = st_.clock.Now();
  if (!inv.healthy && s.unhealthy_since <= 0) {
    s.unhealthy_since = now;
    st_.log->warn("site {}: unhealthy: {}", s.cfg.name, inv.reason);
  }
  if (inv.healthy && s.unhealthy_since > 0) st_.log->info("site {}: healthy again", s.cfg.name);
  if (inv.healthy) s.unhealthy_since = 0;
  if (inv.healthy) Grow(site, inv);
  for (const auto& n : inv.nodes)
    for (NodeId id : st_.view.FindAll(s.cfg.name, n.name)) {
      const bool usable = inv.healthy && n.usable;
      if (st_.sched->capacity().Usable(id) != usable) st_.dirty = true;
      st_.sched->SetNodeUsable(id, usable);
    }
  if (!inv.healthy)  // unreachable: none of its nodes takes new work
    for (const Node& n : st_.cluster->nodes())
      if (st_.view.Origin(n.id).site == s.cfg.name) st_.sched->SetNodeUsable(n.id, false);
  if (inv.healthy != s.inventory.healthy) st_.metrics.Inc("cnet_site_health_changes_total", "site=\"" + s.cfg.name + "\"");
  st_.metrics.SetGauge("cnet_site_healthy", "site=\"" + s.cfg.name + "\"", inv.healthy ? 1 : 0);
  if (inv.healthy || !inv.nodes.empty()) {
    s.inventory = std::move(inv);
  } else {
    s.inventory.healthy = false;
    s.inventory.reason = inv.reason;
  }
}

void Reconciler::RefreshInventories() {
  const double now = st_.clock.Now();
  for (size_t i = 0; i < st_.sites.size(); ++i) {
    SiteRuntime& s = st_.sites[i];
    if (!s.caps.dynamic_inventory || now < s.next_inventory) continue;
    s.next_inventory = now + s.cfg.inventory_interval_s;
    TakeInventory(static_cast<int>(i), s.backend->Inventory());
  }
}

// An unconfirmed attempt (its submit got no answer; the site has not confirmed it since) goes after
// redispatch_unconfirmed_after_s of the outage, a confirmed one after redispatch_after_s.
void Reconciler::RedispatchStranded() {
  const double now = st_.clock.Now();
  for (size_t i = 0; i < st_.sites.size(); ++i) {
    SiteRuntime& s = st_.sites[i];
    const double after = s.cfg.redispatch_after_s;
    const double unconfirmed_after = s.cfg.redispatch_unconfirmed_after_s > 0 ? std::min(after, s.cfg.redispatch_unconfirmed_after_s) : after;
    if (after <= 0 || s.unhealthy_since <= 0 || now - s.unhealthy_since < unconfirmed_after) continue;
    const double down_for = now - s.unhealthy_since;
    SiteId sid;
    for (const cnet::Site& cs : st_.cluster->sites())
      if (cs.name == s.cfg.name) sid = cs.id;
    std::vector<Active*> stranded;
    for (const auto& [id, a] : st_.jobs.jobs())
      if (a->site == static_cast<int>(i) && a->state == JobState::kScheduled && !a->cancel_requested && !a->launching &&
          down_for >= (a->unconfirmed ? unconfirmed_after : after))
        stranded.push_back(a.get());
    for (Active* a : stranded) {
      JobSpec probe = a->spec;  // only where its spec allows another site that could hold it
      if (probe.allowed_sites.empty())
        for (const cnet::Site& cs : st_.cluster->sites()) probe.allowed_sites.push_back(cs.id);
      probe.allowed_sites.erase(std::remove(probe.allowed_sites.begin(), probe.allowed_sites.end(), sid),
                                probe.allowed_sites.end());
      if (probe.allowed_sites.empty() || !st_.sched->Prepare(probe).ok()) continue;
      auto w = s.backend->Withdraw(a->id, a->attempts);
      if (!w.ok() || *w != backends::WithdrawOutcome::kWithdrawn) continue;  // it may have started: wait for the site
      const std::string unconfirmed = a->unconfirmed ? "; its submit was never confirmed" : "";
      (void)st_.Requeue(*a, "re-dispatched: " + s.cfg.name + " has been unreachable for " +
                                std::to_string(static_cast<int>(down_for)) + " s (" + s.inventory.reason + ")" +
                                unconfirmed + "; attempt " + std::to_string(a->attempts) + " withdrawn there");
    }
  }
}

}  // namespace cnet::service
