#include "service/control_loop.h"
#include "service/datasets.h"
#include "service/residency.h"
#include "service/time_shift.h"

#include "service/explain.h"
#include "service/power_limits.h"

#include <algorithm>

namespace cnet::service {

using store::JobState;

namespace {
constexpr double kCycleEveryS = 5;  // a scheduling cycle at least this often, even if nothing changed
// Woken ticks are at least kMinWokenGapS apart; in a burst (a tick took in more than kBurstWork
// jobs and launch outcomes, or more launches are in flight) kBurstGapS, so that the burst commits in batches (each commit is an
// fsync that submits wait behind), while a lone job is dispatched and recorded at once.
constexpr double kMinWokenGapS = 0.002;
constexpr double kBurstGapS = 0.03;
constexpr size_t kBurstWork = 1;
}

ControlLoop::ControlLoop(LoopState& st, bool inline_launches)
    : st_(st), dispatcher_(st, launcher_), reconciler_(st), ahead_(st), gates_(st), preemptions_(st), launcher_([this] { Wake(); }, inline_launches) {
  for (auto& s : st_.sites) launcher_.AddSite(s.backend.get(), s.caps.launch_concurrency);
  for (const auto& [id, a] : st_.jobs.jobs())  // recovered behind their gates (recovery.cc)
    if (a->gated) gates_.Gate(*a);
  read_ = std::make_shared<const ReadModel>();
}

ControlLoop::~ControlLoop() { Stop(); }

void ControlLoop::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ControlLoop::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ControlLoop::Submitted(store::JobRow row, api::JobRequest req) {
  {
    std::lock_guard l(mu_);
    submitted_.emplace_back(std::move(row), std::move(req));
  }
  Wake();
}

void ControlLoop::DatasetChanged(const std::string& name, bool enforce_running) {
  {
    std::lock_guard l(mu_);
    changed_datasets_[name] = changed_datasets_[name] || enforce_running;
    urgent_ = true;  // a revoke takes effect at the next tick, not after a batching gap
  }
  Wake();
}

std::future<std::vector<Result<CancelOutcome>>> ControlLoop::Cancel(std::vector<int64_t> ids, std::string by) {
  CancelCmd c{std::move(ids), std::move(by), {}};
  auto f = c.done.get_future();
  {
    std::lock_guard l(mu_);
    cancels_.push_back(std::move(c));
    urgent_ = true;  // a caller waits for the answer: no batching gap
  }
  Wake();
  return f;
}

std::future<std::vector<Result<store::JobState>>> ControlLoop::Act(UserAction what, std::vector<int64_t> ids,
                                                                   std::string by) {
  ActCmd c{what, std::move(ids), std::move(by), {}};
  auto f = c.done.get_future();
  {
    std::lock_guard l(mu_);
    acts_.push_back(std::move(c));
    urgent_ = true;
  }
  Wake();
  return f;
}

std::shared_ptr<const ReadModel> ControlLoop::Read() const {
  std::lock_guard l(mu_);
  return read_;
}

void ControlLoop::Wake() {
  {
    std::lock_guard l(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ControlLoop::TakeCommands() {
  std::deque<std::pair<store::JobRow, api::JobRequest>> subs;
  std::deque<CancelCmd> cancels;
  std::map<std::string, bool> changed;
  std::deque<ActCmd> acts;
  {
    std::lock_guard l(mu_);
    subs.swap(submitted_);
    work_ += subs.size();
    cancels.swap(cancels_);
    changed.swap(changed_datasets_);
    acts.swap(acts_);
  }
  if (!changed.empty()) RecheckResidency(st_, changed);  // before new jobs: they resolve afresh
  auto model = st_.Model();
  for (auto& [row, req] : subs) {
    auto a = std::make_unique<Active>();
    a->id = row.id;
    a->tenant = row.tenant;
    a->state = row.state;
    a->attempts = row.attempts;
    a->array_id = row.array_id;
    a->array_index = row.array_index;
    a->array_limit = api::ArrayLimit(req.array);
    a->held_by = row.held_by;
    auto spec = st_.admission.ToSpec(*model, row.id, row.tenant, row.submit_time, req);
    a->req = std::move(req);
    Standing reserved;
    reserved.state = JobState::kPending;
    Active& in = st_.jobs.Insert(std::move(a), reserved);
    if (!spec.ok()) {  // the model changed since admission
      (void)st_.Finish(in, JobState::kFailed, "not admissible: " + spec.status().message(), std::nullopt);
      continue;
    }
    in.spec = std::move(spec).value();
    Enqueue(in);
  }
  for (CancelCmd& c : cancels) c.done.set_value(DoCancel(c.ids, c.by));
  for (ActCmd& c : acts) c.done.set_value(DoAct(c.what, c.ids, c.by));
}

void ControlLoop::Enqueue(Active& a) {
  PlanTimeShift(st_, a);
  if (Gates::HasGate(a)) gates_.Gate(a);
  else st_.Hold(a, "queued", false);
}

void ControlLoop::TakeLaunchOutcomes() {
  std::vector<LaunchOutcome> outs = launcher_.Take();
  work_ += outs.size();
  if (outs.empty() && !dispatcher_.has_retries()) return;
  std::vector<int64_t> ids;
  for (const auto& o : outs) ids.push_back(o.req.job_id);
  dispatcher_.CommitOutcomes(std::move(outs));
  for (int64_t id : ids) {  // site events that came before the launch result
    Active* a = st_.jobs.Find(id);
    if (!a || a->launching || a->early_events.empty()) continue;
    std::vector<backends::SiteEvent> early;
    early.swap(a->early_events);
    reconciler_.Apply(a->site, std::move(early));
  }
  reasons_dirty_ = true;
}

void ControlLoop::ReleaseHeld() {
  for (auto& [tenant, q] : st_.held) {
    while (!q.empty()) {
      Active* a = st_.jobs.Find(q.front());
      if (!a || a->in_sched || a->gated || (a->state != JobState::kPending && a->state != JobState::kPreempted)) {
        q.pop_front();
        continue;
      }
      if (!st_.admission.CpuOnly(a->spec) &&
          !st_.ledger.QuotaAllows(tenant, st_.admission.ChargeType(a->spec), a->spec.workers)) {
        a->reason = "waiting: tenant " + tenant + " is at its accelerator quota";
        reasons_dirty_ = true;
        break;
      }
      q.pop_front();
      Status s = st_.sched->Admit(a->spec);
      if (!s.ok()) {
        (void)st_.Finish(*a, JobState::kFailed, "not admissible: " + s.message(), std::nullopt);
        continue;
      }
      a->in_sched = true;
      a->reason.clear();
      st_.jobs.Restand(*a);
      st_.dirty = true;
    }
  }
}

void ControlLoop::RunCycle() {
  const double now = st_.clock.Now();
  // A time-sharing policy's round comes on time, not at the next periodic cycle.
  const bool round = st_.sched->policy().time_sharing() && now - last_round_ >= st_.cfg.round_s;
  if (!st_.dirty && !round && now - last_cycle_ < kCycleEveryS) return;
  st_.dirty = false;
  last_cycle_ = now;
  const double t0 = MonotonicSeconds();
  const QueueAhead::Fenced fenced = ahead_.Fence();
  if (round) last_round_ = now;
  CycleResult cr = st_.sched->RunCycle(now, round, st_.rng);
  ahead_.Unfence(fenced);
  for (const std::string& why : cr.rejected) {  // a policy bug: say so, never act on it
    st_.log->error("policy {}: decision rejected: {}", st_.cfg.policy, why);
    st_.metrics.Inc("cnet_policy_rejected_decisions_total", "policy=\"" + st_.cfg.policy + "\"");
  }
  std::vector<Decision> places;
  for (Decision& d : cr.applied) {
    if (d.action == Action::kPlace) places.push_back(std::move(d));
    else if (d.action == Action::kPreempt) preemptions_.Begin(d.job.value(), d.reason);
  }
  preemptions_.Step();
  dispatcher_.Dispatch(places);
  dispatcher_.Dispatch(ahead_.Choose());
  st_.metrics.ObserveCycle(MonotonicSeconds() - t0);
  reasons_dirty_ = true;
}

OutageBook ControlLoop::Outages() const {
  std::vector<std::pair<std::string, SiteOutage>> down;
  for (const SiteRuntime& s : st_.sites)
    if (!s.inventory.healthy) down.push_back({s.cfg.name, {s.cfg.name, s.unhealthy_since, s.inventory.reason}});
  return OutageBook(*st_.cluster, std::move(down));
}

// Proportional to what it publishes: the queue order (a copy of ids), the detailed reasons of
// its first kExplainLimit jobs, site notes and one held reason per tenant.
void ControlLoop::PublishReasons() {
  st_.notes_changed = false;
  reasons_dirty_ = false;
  auto r = std::make_shared<std::unordered_map<int64_t, std::string>>();
  auto est = std::make_shared<std::unordered_map<int64_t, double>>();
  const auto& pending = st_.sched->pending();
  std::vector<int64_t> order;
  order.reserve(pending.size());
  for (JobId id : pending) order.push_back(id.value());
  const OutageBook outages = Outages();
  const PowerBook power(st_);
  for (size_t i = 0; i < pending.size() && i < kExplainLimit; ++i) {
    const JobRecord& j = *st_.sched->Find(pending[i]);
    if (j.estimated_start >= 0) (*est)[order[i]] = j.estimated_start;
    if (!outages.any() && !power.any()) {
      (*r)[order[i]] = j.reason;
      continue;
    }
    bool all_down = false;
    const std::vector<const SiteOutage*> down = outages.For(j.spec, &all_down);
    (*r)[order[i]] = power.With(WithOutages(j.reason, down, all_down), j.spec);
  }
  for (const auto& [id, note] : st_.notes) (*r)[id] = note;
  for (int64_t id : gates_.gated())
    if (const Active* a = st_.jobs.Find(id); a && a->gated) (*r)[id] = a->reason;
  auto held = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& [tenant, q] : st_.held)
    for (int64_t id : q)
      if (Active* a = st_.jobs.Find(id); a && !a->in_sched && !a->gated) {
        if (!a->reason.empty()) (*held)[tenant] = a->reason;
        break;
      }
  reasons_ = std::move(r);
  estimate_ = std::make_shared<const EstimateBase>(
      EstimateBase{st_.cluster, st_.sched->capacity(), RunningReleases(*st_.sched), st_.clock.Now()});
  queue_ = std::make_shared<const QueueView>(std::move(order));
  held_reasons_ = std::move(held);
  estimated_starts_ = std::move(est);
}

void ControlLoop::Publish() {
  auto m = std::make_shared<ReadModel>();
  m->published_at = st_.clock.Now();
  m->tick = ++ticks_;
  if (reasons_dirty_ || !reasons_ || st_.notes_changed) PublishReasons();
  m->reasons = reasons_;
  m->queue = queue_;
  m->held_reasons = held_reasons_;
  m->estimate = estimate_;
  m->estimated_starts = estimated_starts_;
  m->explain_limit = kExplainLimit;
  for (size_t i = 0; i < st_.sites.size(); ++i) {
    const SiteRuntime& s = st_.sites[i];
    SiteView v{s.cfg.name, std::string(s.backend->type()), s.cfg.region, s.inventory.healthy, s.inventory.reason, {}, {}};
    v.attributes = s.cfg.attributes;
    std::unordered_map<std::string, const backends::SiteNode*> reported;
    for (const auto& sn : s.inventory.nodes) reported[sn.name] = &sn;
    for (const Node& n : st_.cluster->nodes()) {
      const NodeOrigin& o = st_.view.Origin(n.id);
      if (o.site != s.cfg.name) continue;
      const bool cpu = n.accel == st_.admission.cpu_type();
      if (cpu && !v.nodes.empty() && v.nodes.back().name == o.node && v.nodes.back().kind == "accelerator") {
        v.nodes.back().cpus_free = st_.sched->capacity().Free(n.id);  // the node's CPU twin: shown with it
        continue;
      }
      NodeView nv;
      nv.name = o.node;
      nv.kind = n.accel == st_.admission.cpu_type() ? "cpu" : "accelerator";
      nv.type = st_.cat.Get(n.accel).name;
      nv.count = n.accel_count;
      nv.free = st_.sched->capacity().Free(n.id);
      nv.usable = st_.sched->capacity().Usable(n.id);
      if (auto it = reported.find(o.node); it != reported.end()) nv.reason = it->second->reason;
      nv.cpus = n.cpus;
      nv.memory_gib = n.memory_gib;
      v.nodes.push_back(std::move(nv));
    }
    m->sites.push_back(std::move(v));
  }
  {
    std::lock_guard l(mu_);
    read_ = std::move(m);
  }
  st_.metrics.SetGauge("cnet_queue_length", "", static_cast<double>(st_.sched->pending().size()));
  std::map<AccelId, int> alloc;
  for (JobId id : st_.sched->running()) {
    const JobRecord& r = *st_.sched->Find(id);
    alloc[r.placement.accel] += r.placement.Workers();
  }
  for (AccelId a : st_.cluster->accel_types()) {
    const std::string type = "type=\"" + st_.cat.Get(a).name + "\"";
    st_.metrics.SetGauge("cnet_allocated_accelerators", type, alloc[a]);
    st_.metrics.SetGauge("cnet_capacity_accelerators", type, st_.cluster->AccelCount(a));
  }
  size_t held = 0;
  for (const auto& [tenant, q] : st_.held) held += q.size();
  st_.metrics.SetGauge("cnet_jobs_held_by_quota", "", static_cast<double>(held));
  for (const char* name : {"PENDING", "SCHEDULED", "RUNNING", "PREEMPTED"}) {
    auto s = store::ParseState(name);
    auto it = st_.jobs.by_state().find(*s);
    st_.metrics.SetGauge("cnet_jobs", std::string("state=\"") + name + "\"", it == st_.jobs.by_state().end() ? 0 : it->second);
  }
}

// Datasets that expired since the last look are re-checked as if changed (their readers that
// wait fail; docs/data.md). Once a second; the first look only starts the clock (recovery
// already refused jobs whose inputs had expired).
void ControlLoop::NoteExpiries() {
  const Datasets* ds = st_.admission.datasets();
  const double now = st_.clock.Now();
  if (!ds || now - expiry_checked_ < 1) return;
  if (expiry_checked_ > -1e17)
    for (const std::string& name : ds->ExpiringIn(expiry_checked_, now)) DatasetChanged(name);
  expiry_checked_ = now;
}

void ControlLoop::Tick() {
  NoteExpiries();
  TakeCommands();
  TakeLaunchOutcomes();
  preemptions_.Step();  // marks the store refused before
  reconciler_.RefreshInventories();
  reconciler_.ApplySiteEvents();
  reconciler_.RedispatchStranded();
  if (gates_.Evaluate()) reasons_dirty_ = true;
  ReleaseHeld();
  ahead_.Book();
  if (ApplyPowerBudgets(st_)) st_.dirty = reasons_dirty_ = true;  // a raised budget may start work
  RunCycle();
  Publish();
}

void ControlLoop::Loop() {
  while (!stop_) {
    const double t0 = MonotonicSeconds();
    work_ = 0;
    Tick();
    const double took = MonotonicSeconds() - t0;
    const double gap = work_ > kBurstWork || launcher_.in_flight() > kBurstWork ? kBurstGapS : kMinWokenGapS;
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::duration<double>(st_.cfg.cycle_interval_s), [this] { return stop_.load() || woken_; });
    woken_ = false;
    // Woken early: let a burst gather a little, so a stream of submits does not keep the loop busy
    // more than about half the time, and its commits come in batches. A cancel does not wait.
    const double rest = t0 + std::min(st_.cfg.cycle_interval_s, std::max(gap, 2 * took)) - MonotonicSeconds();
    if (rest > 0)
      cv_.wait_for(l, std::chrono::duration<double>(rest), [this] { return stop_.load() || urgent_; });
    urgent_ = false;
  }
}

}  // namespace cnet::service
