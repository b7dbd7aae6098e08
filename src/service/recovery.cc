#include "service/recovery.h"

#include <nlohmann/json.hpp>

#include "service/dispatcher.h"
#include "service/gates.h"
#include "service/time_shift.h"

namespace cnet::service {

using nlohmann::json;
using store::JobState;

namespace {

// Re-takes a dispatched job's placement in the scheduler; false if it no longer fits the model.
Status RestorePlacement(LoopState& st, Active& a, const store::JobRow& row) {
  auto shape = ShapeFromPlacementJson(row.placement_json, a.req.workers);
  if (!shape.ok()) return InvalidArgument("job " + std::to_string(row.id) + ": " + shape.status().message());
  Placement pl;
  for (const auto& share : *shape) {
    auto node = st.view.FindFor(row.site, share.node, st.admission.CpuOnly(a.spec));
    if (!node) return Status(Code::kNotFound, "node " + share.node + " is no longer reported by " + row.site);
    pl.accel = st.cluster->node(*node).accel;
    pl.slots.push_back(Slot{*node, share.workers * std::max(1, a.spec.unit)});
  }
  a.shape = *shape;
  a.accelerator = pl.accel == st.admission.cpu_type() ? "" : st.cat.Get(pl.accel).name;
  auto any_of = AnyOfFromPlacementJson(row.placement_json);
  if (!any_of.ok()) return InvalidArgument("job " + std::to_string(row.id) + ": " + any_of.status().message());
  if (row.state == JobState::kScheduled && !any_of->empty()) {  // the site places it (queue_ahead.h)
    a.any_of = *any_of;
    return Status(Code::kFailedPrecondition, "queued ahead; its site chooses the node");
  }
  const double now = st.clock.Now();
  return st.sched->AdoptRunning(a.spec, pl, row.start_time > 0 ? row.start_time : now, now);
}

Status FailRow(LoopState& st, const store::JobRow& row, const std::string& why) {
  store::Store::Update u;
  u.expected_from = row.state;
  u.end_time = st.clock.Now();
  Status s = st.store.Transition(row.id, JobState::kFailed, why, u.end_time.value(), u);
  if (!s.ok()) return Status(s.code(), "recovery: job " + std::to_string(row.id) + ": " + s.message());
  st.log->warn("job {}: failed at recovery: {}", row.id, why);
  return Status::Ok();
}

// A dispatched job: find its run on its site and take it back.
Status RecoverDispatched(LoopState& st, std::unique_ptr<Active> owned, const store::JobRow& row) {
  const int site = st.SiteOf(row.site);
  if (site < 0) return FailRow(st, row, "its site '" + row.site + "' is no longer configured");
  SiteRuntime& s = st.sites[site];
  Active& a = st.jobs.Insert(std::move(owned), Standing{});
  a.site = site;
  std::string handle = row.runtime_json;
  const bool interrupted = handle.empty();
  if (interrupted) {  // a crash came between SCHEDULED and the launch being recorded
    backends::Interrupted found = s.backend->FindInterrupted(row.id, row.attempts);
    if (found.kind == backends::Interrupted::kNeverStarted)
      return st.Requeue(a, "requeued: the service stopped before it started");
    if (found.kind == backends::Interrupted::kUnknown) a.interrupted_unknown = true;
    handle = found.handle;
  }
  auto adopted = s.backend->Adopt(row.id, row.attempts, handle);
  if (adopted.ok() && *adopted == backends::AdoptOutcome::kNeverStarted)
    return st.Requeue(a, "requeued: the service stopped before its run began");
  if (adopted.ok() && *adopted == backends::AdoptOutcome::kGone) {
    if (row.attempts <= a.req.max_retries || a.cancel_requested || a.requeue_requested)  // Requeue ends a cancelled job
      return st.Requeue(a, "requeued: its run was gone after a restart");
    return st.Finish(a, JobState::kFailed, "lost: its run ended while the service was down and left no exit status",
                     std::nullopt);
  }
  if (!adopted.ok()) st.log->warn("job {}: adopt on {}: {}", row.id, row.site, adopted.status().message());
  Status placed = RestorePlacement(st, a, row);
  if (placed.code() == Code::kInvalidArgument) return placed;  // a corrupt row: refuse to guess
  a.in_sched = placed.ok();
  // Its nodes are held in the model by others (a job queued ahead of free capacity, or a run the
  // site moved): booked there once they free (queue_ahead.h), charged to its quota meanwhile.
  a.ahead = placed.code() == Code::kFailedPrecondition;
  if (!placed.ok()) st.log->warn("job {}: placement not re-taken: {}", row.id, placed.message());
  st.jobs.Restand(a);
  if (interrupted && !handle.empty()) {
    const bool runs = s.caps.starts_at_launch;
    Transition t{a.id, runs ? JobState::kRunning : JobState::kScheduled,
                 "re-adopted after a restart (dispatch was interrupted)", st.clock.Now(), {}};
    t.update.runtime_json = handle;
    if (runs) t.update.start_time = t.time;
    return st.jobs.Apply(t);
  }
  if (a.cancel_requested || a.requeue_requested) {  // acknowledged before the restart: make sure the run is stopped
    Status k = s.backend->Kill(row.id, a.cancel_requested ? "cancelled (before a restart)" : "requeued (before a restart)");
    if (!k.ok() && k.code() != Code::kNotFound) st.log->warn("job {}: kill on {}: {}", row.id, row.site, k.message());
    return Status::Ok();  // keeps the mark in the row's reason
  }
  Status r = st.store.SetReason(row.id, "re-adopted after a restart");
  if (!r.ok()) st.log->warn("job {}: {}", row.id, r.message());
  return Status::Ok();
}

// A row that cannot be decoded is never dropped silently: it is failed with the reason (logged,
// and counted in `*quarantined`).
Status RecoverRow(LoopState& st, const store::JobRow& row, int* quarantined) {
  auto a = ActiveFromRow(st, row);
  if (!a.ok()) {
    ++*quarantined;
    return FailRow(st, row, a.status().message());
  }
  if (row.state == JobState::kPending || row.state == JobState::kPreempted) {
    PlanTimeShift(st, **a);  // planned afresh, from now (the deadline is absolute)
    (*a)->gated = Gates::HasGate(**a);  // the control loop puts it behind its gates
    Active& in = st.jobs.Insert(std::move(a).value(), Standing{});
    if (!in.gated) st.Hold(in, "queued", false);
    return Status::Ok();
  }
  return RecoverDispatched(st, std::move(a).value(), row);
}

}  // namespace

Result<std::unique_ptr<Active>> ActiveFromRow(LoopState& st, const store::JobRow& row) {
  json doc = json::parse(row.spec_json, nullptr, false);
  api::Limits limits = st.cfg.limits;
  limits.max_array_size = api::kMaxArrayIndex + 1;  // accepted at submit: a bound lowered since must not fail it
  auto req = api::JobRequestFromJson(doc, limits);
  if (!req.ok()) return InvalidArgument("spec no longer valid: " + req.status().message());
  auto model = st.Model();
  auto spec = st.admission.ToSpec(*model, row.id, row.tenant, row.submit_time, *req);
  if (!spec.ok()) return InvalidArgument("not admissible after restart: " + spec.status().message());
  auto a = std::make_unique<Active>();
  a->id = row.id;
  a->tenant = row.tenant;
  a->req = *req;
  a->spec = *spec;
  a->state = row.state;
  a->attempts = row.attempts;
  a->array_id = row.array_id;
  a->array_index = row.array_index;
  a->array_limit = api::ArrayLimit(req->array);
  a->held_by = row.held_by;
  a->cancel_requested = row.reason.rfind(kCancelMark, 0) == 0;
  if (a->cancel_requested) a->cancelled_by = row.reason.substr(std::string(kCancelMark).size());
  a->requeue_requested = row.reason.rfind(kRequeueMark, 0) == 0;
  if (a->requeue_requested) a->requeued_by = row.reason.substr(std::string(kRequeueMark).size());
  return a;
}

Status Recover(LoopState& st) {
  auto rows = st.store.ActiveJobs();
  if (!rows.ok()) return Status(rows.status().code(), "recovery: reading the jobs: " + rows.status().message());
  int quarantined = 0;
  for (const auto& row : *rows) CNET_RETURN_IF_ERROR(RecoverRow(st, row, &quarantined));
  st.log->info("recovery: {} job(s) taken back", rows->size() - quarantined);
  if (quarantined > 0)
    st.log->warn("recovery: {} job(s) failed: their rows could not be decoded or admitted (reasons above)", quarantined);
  return Status::Ok();
}

}  // namespace cnet::service
