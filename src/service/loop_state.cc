#include "service/loop_state.h"

#include "service/energy_metrics.h"
#include "sched/estimate/replica_stage_in.h"
#include "sched/placement/scorers/objective.h"
#include "service/control_loop.h"

namespace cnet::service {

using store::JobState;

LoopState::LoopState(const ServiceConfig& c, const Clock& cl, std::shared_ptr<spdlog::logger> lg, store::Store& s,
                     Metrics& m, const Catalogue& ca, const PerfModel& p, const Admission& ad, TenantLedger& le,
                     const PolicyRegistry& po)
    : cfg(c),
      clock(cl),
      log(std::move(lg)),
      store(s),
      metrics(m),
      cat(ca),
      perf(p),
      admission(ad),
      ledger(le),
      policies(po),
      view(ca, ad.cpu_type()),
      stage_in(std::make_shared<ReplicaStageIn>(c.economics)),
      jobs(s, le, [this](const Active& a) { return StandingOf(a); }, log) {}

void LoopState::PublishModel() {
  auto snap = std::make_shared<ModelSnapshot>();
  snap->cluster = cluster;
  auto probe_policy = policies.Create(cfg.policy);
  // The probe only answers Prepare, which reads the cluster and the perf model.
  SchedulerOptions po;
  po.rules = rules;
  snap->probe = std::make_shared<Scheduler>(*cluster, perf, std::move(probe_policy).value(), po);
  std::lock_guard l(model_mu_);
  model_ = std::move(snap);
}

std::shared_ptr<const ModelSnapshot> LoopState::Model() const {
  std::lock_guard l(model_mu_);
  return model_;
}

int LoopState::SiteOf(const std::string& name) const {
  auto it = site_index.find(name);
  return it == site_index.end() ? -1 : it->second;
}

Standing LoopState::StandingOf(const Active& a) const {
  Standing s;
  if (store::IsTerminal(a.state)) return s;
  s.state = a.state;
  s.held = !a.in_sched && !a.gated && (a.state == JobState::kPending || a.state == JobState::kPreempted);
  if ((a.in_sched || a.ahead) && !admission.CpuOnly(a.spec)) {
    int placed = 0;  // an elastic job is charged the gang it runs (its declared size while it waits)
    for (const backends::NodeShare& n : a.shape) placed += n.workers;
    s.charge = placed > 0 ? placed * std::max(1, a.spec.unit) : a.spec.workers;
    s.charge_type = a.accelerator.empty() ? admission.ChargeType(a.spec) : a.accelerator;
  }
  return s;
}

void LoopState::Hold(Active& a, const std::string& reason, bool front) {
  a.reason = reason;
  if (front) held[a.tenant].push_front(a.id);
  else held[a.tenant].push_back(a.id);
  jobs.Restand(a);
}

void LoopState::LeaveScheduler(Active& a) {
  if (a.in_sched) {
    auto r = sched->Remove(JobId(a.id), clock.Now());
    if (!r.ok()) log->error("job {}: leaving the scheduler: {}", a.id, r.status().message());
    a.in_sched = false;
    dirty = true;
  }
  if (a.ahead) dirty = true;  // its place in its site's queue ahead is free
  a.ahead = false;
  a.any_of.clear();
  a.shape.clear();
  a.accelerator.clear();
  jobs.Restand(a);
}

namespace {

// A run preempted by the policy that ended otherwise (lost, cancelled, succeeded): its gang,
// which the scheduler kept while it stopped, is free.
void ReleaseStoppedRun(LoopState& st, Active& a) {
  if (!a.preempting) return;
  a.preempting = false;
  if (st.sched->Stopping(JobId(a.id))) (void)st.sched->ReleaseStopped(JobId(a.id));
  st.dirty = true;
}

}  // namespace

Status LoopState::StopRun(Active& a, const std::string& why) {
  if (a.launching) return Status::Ok();
  Status k = sites[a.site].backend->Kill(a.id, why);
  if (!k.ok() && k.code() != Code::kNotFound) return Unavailable("site " + sites[a.site].cfg.name + ": " + k.message());
  return Status::Ok();
}

Status LoopState::Preempted(Active& a, const std::string& site_reason) {
  Transition t{a.id, JobState::kPreempted, "preempted by " + a.requeued_by + (site_reason.empty() ? "" : " (" + site_reason + ")"),
               clock.Now(), {}};
  t.update.runtime_json = "";  // as Requeue: the old attempt's handle no longer describes the job
  Status st = jobs.Apply(t);
  if (!st.ok()) {
    log->warn("job {}: preemption not recorded: {}", a.id, st.message());
    return st;
  }
  ReleaseStoppedRun(*this, a);
  a.requeue_requested = false;
  a.requeued_by.clear();
  a.site = -1;
  a.any_of.clear();
  a.shape.clear();
  a.accelerator.clear();
  if (notes.erase(a.id)) notes_changed = true;
  jobs.Restand(a);
  metrics.Inc("cnet_jobs_preempted_total", "");
  log->info("job {}: {}", a.id, t.reason);
  return Status::Ok();
}

Status LoopState::Requeue(Active& a, const std::string& reason) {
  if (a.cancel_requested) return Finish(a, JobState::kCancelled, "cancelled (" + reason + ")", std::nullopt);
  Transition t{a.id, JobState::kPending, reason, clock.Now(), {}};
  // The old attempt's site handle no longer describes the job: kept, a restart between the next
  // dispatch (SCHEDULED) and its launch being recorded would adopt the new attempt by the old
  // handle, find it gone and fail the job "lost".
  t.update.runtime_json = "";
  Status st = jobs.Apply(t);
  if (!st.ok()) {
    log->warn("job {}: requeue not recorded ({}): {}", a.id, reason, st.message());
    return st;
  }
  LeaveScheduler(a);
  ReleaseStoppedRun(*this, a);
  a.requeue_requested = false;
  a.site = -1;
  if (notes.erase(a.id)) notes_changed = true;
  Hold(a, reason, true);
  metrics.Inc("cnet_jobs_requeued_total", "");
  log->info("job {}: requeued: {}", a.id, reason);
  return Status::Ok();
}

Transition LoopState::FinishTransition(const Active& a, JobState to, const std::string& reason,
                                       std::optional<int> exit_code, std::optional<double> end,
                                       std::optional<std::pair<double, std::string>> energy) const {
  Transition t{a.id, to, reason, clock.Now(), {}};
  t.update.end_time = end ? *end : t.time;
  t.update.exit_code = exit_code;
  if (energy) {
    t.update.energy_j = energy->first;
    t.update.energy_source = energy->second;
  }
  return t;
}

void LoopState::Finished(Active& a, const Transition& t) {
  std::optional<std::pair<double, std::string>> energy;
  if (t.update.energy_j) energy.emplace(*t.update.energy_j, t.update.energy_source.value_or(""));
  CountJobEnergy(*this, a, *t.update.end_time, energy);
  LeaveScheduler(a);
  ReleaseStoppedRun(*this, a);
  const int64_t id = a.id;
  // A held job leaves its tenant's queue lazily: ReleaseHeld skips ids no longer active.
  jobs.Erase(id);
  ++finished;
  if (notes.erase(id)) notes_changed = true;
  metrics.Inc("cnet_jobs_finished_total", std::string("state=\"") + store::StateName(t.to) + "\"");
  log->debug("job {}: {}: {}", id, store::StateName(t.to), t.reason);
}

Status LoopState::Finish(Active& a, JobState to, const std::string& reason, std::optional<int> exit_code,
                         std::optional<double> end, std::optional<std::pair<double, std::string>> energy) {
  const Transition t = FinishTransition(a, to, reason, exit_code, end, std::move(energy));
  Status st = jobs.Apply(t);
  if (!st.ok()) {  // nothing moved; the caller retries
    log->error("job {}: {} not recorded: {}", a.id, store::StateName(to), st.message());
    return st;
  }
  Finished(a, t);
  return Status::Ok();
}

Status LoopState::RebuildModel() {
  CNET_ASSIGN_OR_RETURN(std::shared_ptr<const Cluster> cl, view.Build());
  CNET_ASSIGN_OR_RETURN(std::unique_ptr<Policy> pol, policies.Create(cfg.policy));
  if (pol->time_sharing() && cfg.policy != "elastic-hetero")
    return InvalidArgument("policy: '" + cfg.policy +
                           "' time-shares by preempting; the service runs the non-preemptive policies fifo, "
                           "fifo-hetero, backfill and cost-hetero, and elastic-hetero");
  if (!rules) {
    auto r = std::make_shared<PlacementRules>();
    // cost-hetero orders types by cost itself (and by deadline); the objective's order would replace it.
    InstallObjectiveScorers(*r, cfg.economics, cat, stage_in.get(), cfg.policy != "cost-hetero");
    rules = std::move(r);
  }
  SchedulerOptions so;
  so.rules = rules;
  so.explain_waiting = true;
  so.explain_limit = kExplainLimit;
  // elastic-hetero: a preempted gang is a real run that takes time to stop (service/preemption.h);
  // jobs start between rounds too.
  so.round_s = cfg.round_s;
  so.preempt_penalty_s = cfg.restore_s;
  so.preempted_hold_until_stopped = true;
  so.fill_between_rounds = true;
  so.stage_in = stage_in;  // a run that stages in its inputs starts its work that much later
  so.economics = cfg.economics;
  auto next = std::make_unique<Scheduler>(*cl, perf, std::move(pol), so);
  for (const auto& [node, twin] : view.twins()) next->SetCpuTwin(node, twin);  // one node's CPUs, both views
  if (sched) {  // nodes keep their ids when the model grows, so jobs and node states carry over
    const double now = clock.Now();
    for (JobId id : sched->running()) {
      const JobRecord& r = *sched->Find(id);
      Status st = next->AdoptRunning(r.spec, r.placement, r.first_start_s, now);
      if (!st.ok()) return Internal("model growth: running job " + std::to_string(id.value()) + ": " + st.message());
    }
    for (JobId id : sched->pending()) {
      Status st = next->Admit(sched->Find(id)->spec);
      if (!st.ok()) return Internal("model growth: pending job " + std::to_string(id.value()) + ": " + st.message());
    }
    for (const auto& [id, gang] : sched->stopping()) {
      Status st = next->HoldStopping(id, gang);
      if (!st.ok()) return Internal("model growth: stopping run of job " + std::to_string(id.value()) + ": " + st.message());
    }
    for (const Node& n : cluster->nodes()) next->SetNodeUsable(n.id, sched->capacity().Usable(n.id));
  }
  sched = std::move(next);  // the old scheduler goes first: it refers to the old cluster
  cluster = std::move(cl);
  dirty = true;
  PublishModel();
  return Status::Ok();
}

std::string LoopState::DeviceEnv(int site, AccelId accel) const {
  if (accel == admission.cpu_type()) return "";
  const std::string& configured = sites[site].cfg.device_env;
  if (!configured.empty()) return configured;
  const AcceleratorSpec& spec = cat.Get(accel);
  if (spec.kind == AccelKind::kNpu) return "ASCEND_RT_VISIBLE_DEVICES";
  if (spec.vendor == "AMD") return "ROCR_VISIBLE_DEVICES";
  return "CUDA_VISIBLE_DEVICES";
}

}  // namespace cnet::service
