#include "service/residency.h"

#include <algorithm>

#include "model/data_residency.h"
#include "service/datasets.h"

namespace cnet::service {

namespace {

bool Reads(const Active& a, const std::map<std::string, bool>& changed) {
  return std::any_of(a.req.inputs.begin(), a.req.inputs.end(), [&](const std::string& d) { return changed.count(d); });
}

// The owner of one of its changed inputs asked that running jobs the change denies be stopped.
bool Enforced(const Active& a, const std::map<std::string, bool>& changed) {
  return std::any_of(a.req.inputs.begin(), a.req.inputs.end(), [&](const std::string& d) {
    auto it = changed.find(d);
    return it != changed.end() && it->second;
  });
}

SiteId SiteIdOf(const LoopState& st, int site) {
  for (const cnet::Site& cs : st.cluster->sites())
    if (cs.name == st.sites[site].cfg.name) return cs.id;
  return SiteId();
}

// Stops the run of a dispatched job its data may no longer use (enforce_running): recorded first
// (the requeue or cancel mark), then killed; its end requeues it (or cancels it: `cancel`).
void StopDenied(LoopState& st, Active& a, bool cancel, const std::string& why) {
  if (a.cancel_requested || a.requeue_requested || a.site < 0) return;
  const std::string by = "the data owner (" + why + ")";
  Status mark = st.store.SetReason(a.id, std::string(cancel ? kCancelMark : kRequeueMark) + by);
  if (!mark.ok()) {
    st.log->error("job {}: its stop for a data policy change could not be recorded ({}); it keeps running", a.id,
                  mark.message());
    return;
  }
  if (cancel) {
    a.cancel_requested = true;
    a.cancelled_by = by;
  } else {
    a.requeue_requested = true;
    a.requeued_by = by;
  }
  Status k = st.StopRun(a, (cancel ? "cancelled by " : "requeued by ") + by);
  if (!k.ok()) st.log->warn("job {}: stopping it for a data policy change: {}", a.id, k.message());
  st.log->info("job {}: stopped: {}", a.id, why);
}

store::AuditRecord Decision(const LoopState& st, const Active& a, const std::string& dataset, const std::string& site,
                            const std::string& decision, const std::string& reason) {
  store::AuditRecord r;
  r.time = st.clock.Now();
  r.actor = "service";
  r.action = "residency";
  r.job = a.id;
  r.dataset = dataset;
  r.site = site;
  r.policy_version = st.admission.datasets() ? st.admission.datasets()->PolicyVersion(dataset) : 0;
  r.decision = decision;
  r.reason = reason;
  return r;
}

// A job submitted to a site its data may no longer go to and not started there: withdrawn and
// queued again (it then enters the scheduler under its new set), where the site can withdraw.
// Returns whether it was.
bool WithdrawIfDenied(LoopState& st, Active& a) {
  if (a.state != store::JobState::kScheduled || a.launching || a.site < 0) return false;
  SiteRuntime& s = st.sites[a.site];
  const SiteId sid = SiteIdOf(st, a.site);
  if (!a.spec.residency || a.spec.residency->Allows(sid) || !s.caps.can_withdraw) return false;
  auto w = s.backend->Withdraw(a.id, a.attempts);
  if (!w.ok() || *w != backends::WithdrawOutcome::kWithdrawn) return false;  // it may have started
  Status r = st.Requeue(a, "requeued: data policy changed: " + a.spec.residency->WhyNot(sid) + "; withdrawn from " +
                               s.cfg.name);
  return r.ok();
}

}  // namespace

void RecheckResidency(LoopState& st, const std::map<std::string, bool>& changed) {
  std::vector<int64_t> ids;
  for (const auto& [id, a] : st.jobs.jobs())
    if (!store::IsTerminal(a->state) && Reads(*a, changed)) ids.push_back(id);
  auto model = st.Model();
  std::vector<store::AuditRecord> audit;
  for (int64_t id : ids) {
    Active* a = st.jobs.Find(id);
    if (!a) continue;
    auto spec = st.admission.ToSpec(*model, a->id, a->tenant, a->spec.submit_time_s, a->req);
    Status why = spec.ok() ? Status::Ok() : spec.status();
    if (spec.ok()) {
      auto prep = model->probe->Prepare(*spec);
      if (!prep.ok()) why = Infeasible("no site its data may go to can hold it: " + prep.status().message());
    }
    const bool waiting = a->state == store::JobState::kPending && !a->launching && !a->ahead;
    if (!why.ok()) {
      const std::string reason = "data policy changed: " + why.message();
      for (const auto& d : a->req.inputs) audit.push_back(Decision(st, *a, d, "", "deny", reason));
      if (waiting) {
        (void)st.Finish(*a, store::JobState::kFailed, reason, std::nullopt);  // logged by Finish on failure
        continue;
      }
      // Dispatched or running: reported; it may go nowhere else from now on.
      a->spec.residency = std::make_shared<DataResidency>();
      if (Enforced(*a, changed)) StopDenied(st, *a, true, reason);
      else st.log->warn("job {}: {} (it keeps its current run)", a->id, reason);
    } else {
      a->spec.residency = spec->residency;
      a->spec.inputs = spec->inputs;  // replicas may have changed: later estimates count them
      if (WithdrawIfDenied(st, *a)) continue;  // re-enters the scheduler with the new set
      const SiteId here = a->site >= 0 ? SiteIdOf(st, a->site) : SiteId();
      if (!waiting && here.valid() && !a->spec.residency->Allows(here) && Enforced(*a, changed)) {
        const std::string reason = "data policy changed: " + a->spec.residency->WhyNot(here);
        for (const auto& d : a->req.inputs) audit.push_back(Decision(st, *a, d, st.sites[a->site].cfg.name, "deny", reason));
        StopDenied(st, *a, false, reason);
      }
    }
    if (a->in_sched) {
      Status s = st.sched->SetResidency(JobId(a->id), a->spec.residency);
      if (!s.ok()) st.log->error("job {}: residency update: {}", a->id, s.message());
    }
    st.dirty = true;
  }
  WriteAudit(st, std::move(audit));
}

void AuditPlacement(const LoopState& st, const Active& a, int site, std::vector<store::AuditRecord>* out) {
  const std::string& name = st.sites[site].cfg.name;
  for (const auto& d : a.req.inputs)
    out->push_back(Decision(st, a, d, name, "allow", "placed on " + name + "; the data policy allows it"));
}

void WriteAudit(const LoopState& st, std::vector<store::AuditRecord> records) {
  if (records.empty() || !st.admission.datasets()) return;
  Status s = st.admission.datasets()->Record(std::move(records));
  if (!s.ok()) st.log->error("audit log: {}", s.message());
}

}  // namespace cnet::service
