// The control loop's side of cnet cancel / hold / release / requeue (control_loop.h: Cancel, Act).
// Over an array, every task's write is planned first and all commit in one transaction
// (JobTable::ApplyAll), so a crash leaves the whole action recorded or none of it.
#include "service/control_loop.h"
#include "service/recovery.h"

#include <type_traits>

namespace cnet::service {

using store::JobState;

namespace {

std::string JobWord(int64_t id) { return "job " + std::to_string(id); }

bool Waiting(JobState s) { return s == JobState::kPending || s == JobState::kPreempted; }

Status StoreFailed(const std::string& what, const Status& s) {
  if (s.code() == Code::kFailedPrecondition || s.code() == Code::kNotFound) return s;
  return Unavailable("store: the " + what + " could not be recorded: " + s.message());
}

const char* Noun(UserAction what) {
  switch (what) {
    case UserAction::kHold: return "hold";
    case UserAction::kRelease: return "release";
    case UserAction::kRequeue: break;
  }
  return "requeue";
}

// A reason-only write: the mark a cancel or requeue of a run leaves, read again by recovery.
Transition Mark(const Active& a, std::string mark, double now) {
  Transition t{a.id, a.state, std::move(mark), now, {}};
  t.kind = Transition::Kind::kReason;
  return t;
}

// Plans each id's write, commits all of them at once, and answers each id: at once when its plan
// failed, else with `after` of its committed write (or the store's error).
template <class T, class PlanFn, class AfterFn>
std::vector<Result<T>> PlanCommitApply(JobTable& jobs, const std::vector<int64_t>& ids, PlanFn plan, AfterFn after,
                                       const std::string& noun) {
  std::vector<Result<T>> out;
  std::vector<Transition> writes;
  std::vector<size_t> slot;
  for (int64_t id : ids) {
    Result<std::optional<Transition>> p = plan(id);
    if (!p.ok()) {
      out.push_back(p.status());
    } else if (!*p) {  // nothing to write: the answer is the job's state
      if constexpr (std::is_same_v<T, JobState>) out.push_back(jobs.Find(id)->state);
      else out.push_back(Internal("job " + std::to_string(id) + ": nothing to write"));
    } else {
      out.push_back(Internal("not committed"));  // replaced below
      slot.push_back(out.size() - 1);
      writes.push_back(std::move(**p));
    }
  }
  std::vector<Status> st = jobs.ApplyAll(writes);
  for (size_t k = 0; k < writes.size(); ++k)
    out[slot[k]] = st[k].ok() ? after(writes[k]) : Result<T>(StoreFailed(noun, st[k]));
  return out;
}

}  // namespace

std::vector<Result<CancelOutcome>> ControlLoop::DoCancel(const std::vector<int64_t>& ids, const std::string& by) {
  auto plan = [&](int64_t id) -> Result<std::optional<Transition>> {
    CNET_ASSIGN_OR_RETURN(Transition t, PlanCancel(id, by));
    return std::optional<Transition>(std::move(t));
  };
  auto after = [&](const Transition& t) { return AfterCancel(t, by); };
  return PlanCommitApply<CancelOutcome>(st_.jobs, ids, plan, after, "cancel");
}

Result<Transition> ControlLoop::PlanCancel(int64_t id, const std::string& by) {
  Active* a = st_.jobs.Find(id);
  if (!a) {
    auto row = st_.store.GetJob(id);
    if (!row.ok()) return row.status();
    return FailedPrecondition(JobWord(id) + " is already " + store::StateName(row->state));
  }
  if (Waiting(a->state))
    return st_.FinishTransition(*a, JobState::kCancelled, "cancelled by " + by + " before it started", std::nullopt);
  // Recorded before the 202: if the service restarts before the run's end is recorded, recovery
  // reads the mark and still ends the job CANCELLED (never requeued, never FAILED).
  return Mark(*a, std::string(kCancelMark) + by, st_.clock.Now());
}

Result<CancelOutcome> ControlLoop::AfterCancel(const Transition& t, const std::string& by) {
  Active& a = *st_.jobs.Find(t.id);
  if (t.kind == Transition::Kind::kTransition) {
    st_.Finished(a, t);
    return CancelOutcome{JobState::kCancelled, ""};
  }
  a.cancel_requested = true;
  a.cancelled_by = by;
  CNET_RETURN_IF_ERROR(st_.StopRun(a, "cancelled by " + by));
  return CancelOutcome{a.state, "cancelling: its run is being stopped"};
}

std::vector<Result<JobState>> ControlLoop::DoAct(UserAction what, const std::vector<int64_t>& ids,
                                                 const std::string& by) {
  auto plan = [&](int64_t id) { return PlanAct(what, id, by); };
  auto after = [&](const Transition& t) { return AfterAct(what, t, by); };
  auto out = PlanCommitApply<JobState>(st_.jobs, ids, plan, after, Noun(what));
  gates_.Touch();
  reasons_dirty_ = true;
  return out;
}

Result<std::optional<Transition>> ControlLoop::PlanAct(UserAction what, int64_t id, const std::string& by) {
  Active* a = st_.jobs.Find(id);
  const double now = st_.clock.Now();
  if (!a) {
    auto row = st_.store.GetJob(id);
    if (!row.ok()) return row.status();
    if (what != UserAction::kRequeue)
      return FailedPrecondition(JobWord(id) + " is " + store::StateName(row->state) + ": only a pending job can be " +
                                (what == UserAction::kHold ? "held" : "released"));
    // It ended: PENDING again, as if submitted now (its attempts and logs stay).
    if (!store::IsTerminal(row->state))
      return FailedPrecondition(JobWord(id) + " is " + store::StateName(row->state) + " but not taken in yet; retry");
    Transition t{id, JobState::kPending, "requeued by " + by, now, {}};
    t.kind = Transition::Kind::kReopen;
    return std::optional<Transition>(std::move(t));
  }
  switch (what) {
    case UserAction::kHold: {
      if (!Waiting(a->state))
        return FailedPrecondition(JobWord(id) + " is " + store::StateName(a->state) +
                                  ": only a pending job can be held (cnet requeue stops a run)");
      if (!a->held_by.empty()) return FailedPrecondition(JobWord(id) + " is already held by " + a->held_by);
      Transition t{id, a->state, "held by " + by, now, {}};
      t.update.held_by = by;
      return std::optional<Transition>(std::move(t));
    }
    case UserAction::kRelease: {
      if (a->held_by.empty()) return FailedPrecondition(JobWord(id) + " is not held");
      if (a->held_by == kAdminActor && by != kAdminActor)
        return PermissionDenied(JobWord(id) + " was held by an admin; only an admin can release it");
      Transition t{id, a->state, "released by " + by, now, {}};
      t.update.held_by = "";
      return std::optional<Transition>(std::move(t));
    }
    case UserAction::kRequeue: break;
  }
  if (Waiting(a->state)) return FailedPrecondition(JobWord(id) + " is already " + store::StateName(a->state));
  if (a->cancel_requested) return FailedPrecondition(JobWord(id) + " is being cancelled");
  if (a->requeue_requested) return std::optional<Transition>();  // asked before: its run is being stopped
  // Fenced as a cancel is: recorded before the answer, so a restart still stops and requeues it.
  return std::optional<Transition>(Mark(*a, std::string(kRequeueMark) + by, now));
}

Result<JobState> ControlLoop::AfterAct(UserAction what, const Transition& t, const std::string& by) {
  if (t.kind == Transition::Kind::kReopen) return AfterReopen(t.id);
  Active& a = *st_.jobs.Find(t.id);
  switch (what) {
    case UserAction::kHold:
      a.held_by = by;
      if (!a.gated) {  // out of the scheduler (or its tenant's queue) until released
        st_.LeaveScheduler(a);
        gates_.Gate(a);
      }
      return a.state;
    case UserAction::kRelease:
      a.held_by.clear();
      return a.state;
    case UserAction::kRequeue: break;
  }
  a.requeue_requested = true;
  a.requeued_by = by;
  CNET_RETURN_IF_ERROR(st_.StopRun(a, "requeued by " + by));
  return a.state;
}

Result<JobState> ControlLoop::AfterReopen(int64_t id) {
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

}  // namespace cnet::service
