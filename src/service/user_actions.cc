// The control loop's side of cnet hold / release / requeue (control_loop.h: Act).
#include "service/control_loop.h"
#include "service/recovery.h"

namespace cnet::service {

using store::JobState;

namespace {

std::string JobWord(int64_t id) { return "job " + std::to_string(id); }

bool Waiting(JobState s) { return s == JobState::kPending || s == JobState::kPreempted; }

Status StoreFailed(const std::string& what, const Status& s) {
  if (s.code() == Code::kFailedPrecondition || s.code() == Code::kNotFound) return s;
  return Unavailable("store: the " + what + " could not be recorded: " + s.message());
}

}  // namespace

Result<JobState> ControlLoop::DoAct(UserAction what, int64_t id, const std::string& by) {
  Active* a = st_.jobs.Find(id);
  if (what == UserAction::kRequeue) return DoRequeue(a, id, by);
  const char* verb = what == UserAction::kHold ? "held" : "released";
  if (!a) {
    auto row = st_.store.GetJob(id);
    if (!row.ok()) return row.status();
    return FailedPrecondition(JobWord(id) + " is " + store::StateName(row->state) + ": only a pending job can be " + verb);
  }
  return what == UserAction::kHold ? DoHold(*a, by) : DoRelease(*a, by);
}

Result<JobState> ControlLoop::DoHold(Active& a, const std::string& by) {
  if (!Waiting(a.state))
    return FailedPrecondition(JobWord(a.id) + " is " + store::StateName(a.state) +
                              ": only a pending job can be held (cnet requeue stops a run)");
  if (!a.held_by.empty()) return FailedPrecondition(JobWord(a.id) + " is already held by " + a.held_by);
  Transition t{a.id, a.state, "held by " + by, st_.clock.Now(), {}};
  t.update.held_by = by;
  if (Status s = st_.jobs.Apply(t); !s.ok()) return StoreFailed("hold", s);
  a.held_by = by;
  if (!a.gated) {  // out of the scheduler (or its tenant's queue) until released
    st_.LeaveScheduler(a);
    gates_.Gate(a);
  }
  gates_.Touch();
  reasons_dirty_ = true;
  return a.state;
}

Result<JobState> ControlLoop::DoRelease(Active& a, const std::string& by) {
  if (a.held_by.empty()) return FailedPrecondition(JobWord(a.id) + " is not held");
  if (a.held_by == kAdminActor && by != kAdminActor)
    return PermissionDenied(JobWord(a.id) + " was held by an admin; only an admin can release it");
  Transition t{a.id, a.state, "released by " + by, st_.clock.Now(), {}};
  t.update.held_by = "";
  if (Status s = st_.jobs.Apply(t); !s.ok()) return StoreFailed("release", s);
  a.held_by.clear();
  gates_.Touch();
  reasons_dirty_ = true;
  return a.state;
}

Result<JobState> ControlLoop::DoRequeue(Active* a, int64_t id, const std::string& by) {
  if (!a) {  // it ended: PENDING again, as if submitted now (its attempts and logs stay)
    auto row = st_.store.GetJob(id);
    if (!row.ok()) return row.status();
    if (!store::IsTerminal(row->state))
      return FailedPrecondition(JobWord(id) + " is " + store::StateName(row->state) + " but not taken in yet; retry");
    if (Status s = st_.store.Reopen(id, "requeued by " + by, st_.clock.Now()); !s.ok()) return StoreFailed("requeue", s);
    auto reopened = st_.store.GetJob(id);
    if (!reopened.ok()) return Unavailable("store: " + reopened.status().message());
    auto in = ActiveFromRow(st_, *reopened);
    if (!in.ok()) {  // its spec no longer fits this service: it ends again, saying why
      store::Store::Update u;
      u.expected_from = JobState::kPending;
      u.end_time = st_.clock.Now();
      Status f = st_.store.Transition(id, JobState::kFailed, "requeued, but " + in.status().message(), *u.end_time, u);
      if (!f.ok()) st_.log->error("job {}: {}", id, f.message());
      return FailedPrecondition(JobWord(id) + " cannot run again: " + in.status().message());
    }
    Active& added = st_.jobs.Insert(std::move(in).value(), Standing{});
    Enqueue(added);
    gates_.Touch(id);
    st_.metrics.Inc("cnet_jobs_requeued_total", "");
    return JobState::kPending;
  }
  if (Waiting(a->state)) return FailedPrecondition(JobWord(id) + " is already " + store::StateName(a->state));
  if (a->cancel_requested) return FailedPrecondition(JobWord(id) + " is being cancelled");
  if (a->requeue_requested) return a->state;  // asked before: its run is being stopped
  // Fenced as a cancel is: recorded before the answer, so a restart still stops and requeues it.
  Status mark = st_.store.SetReason(id, std::string(kRequeueMark) + by);
  if (!mark.ok()) return Unavailable("store: the requeue could not be recorded: " + mark.message());
  a->requeue_requested = true;
  a->requeued_by = by;
  if (!a->launching) {
    Status k = st_.sites[a->site].backend->Kill(id, "requeued by " + by);
    if (!k.ok() && k.code() != Code::kNotFound)
      return Unavailable("site " + st_.sites[a->site].cfg.name + ": " + k.message());
  }
  return a->state;
}

}  // namespace cnet::service
