#include "service/gates.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace cnet::service {

using store::JobState;

bool Gates::HasGate(const Active& a) {
  return !a.held_by.empty() || !a.req.dependency.empty() || a.array_limit > 0 || a.not_before > 0;
}

void Gates::Gate(Active& a) {
  a.gated = true;
  a.reason = "waiting: its hold, dependencies or array limit are being checked";
  gated_.insert(a.id);
  st_.jobs.Restand(a);
  dirty_ = true;
}

std::optional<JobState> Gates::EndedState(int64_t id) {
  if (auto it = ended_.find(id); it != ended_.end()) return it->second;
  return std::nullopt;
}

Gates::DepResult Gates::CheckDependency(const api::Dependency& d) {
  const std::string dep = std::string(api::DepKindName(d.kind)) + ":" + std::to_string(d.job);
  const std::string id = std::to_string(d.job);
  // One job: its state (active ones are in the table; ended ones are read once, then cached).
  Active* t = st_.jobs.Find(d.job);
  int active = 0, ok = 0, not_ok = 0;
  std::string shown;  // a state to show while it waits
  bool array = t && t->array_id == d.job;
  if (t && !array) {
    active = 1;
    shown = store::StateName(t->state);
  } else if (!t && !array && EndedState(d.job)) {
    (*EndedState(d.job) == JobState::kSucceeded ? ok : not_ok) = 1;
    shown = store::StateName(*EndedState(d.job));
  } else {
    if (!array) {
      auto row = st_.store.GetJob(d.job);
      if (!row.ok()) {
        retry_ = true;
        return {Verdict::kWait, "waiting for dependency " + dep + " (its state could not be read: " + row.status().message() + ")"};
      }
      array = row->array_id == d.job;
      if (!array) {
        if (!store::IsTerminal(row->state)) {  // requeued since: wait for it again
          active = 1;
          shown = store::StateName(row->state);
        } else {
          ended_[d.job] = row->state;
          (row->state == JobState::kSucceeded ? ok : not_ok) = 1;
          shown = store::StateName(row->state);
        }
      }
    }
    if (array) {
      auto tasks = st_.store.ArrayTasks(d.job);
      if (!tasks.ok()) {
        retry_ = true;
        return {Verdict::kWait, "waiting for dependency " + dep + " (its tasks could not be read: " + tasks.status().message() + ")"};
      }
      for (const auto& [tid, s] : *tasks) {
        if (!store::IsTerminal(s)) ++active;
        else if (s == JobState::kSucceeded) ++ok;
        else ++not_ok;
      }
      shown = std::to_string(active) + " of " + std::to_string(tasks->size()) + " task(s) of array " + id + " not ended";
    }
  }
  const std::string what = array ? "array " + id : "job " + id;
  const DepResult wait{Verdict::kWait, "waiting for dependency " + dep + " (" + (array ? shown : what + " is " + shown) + ")"};
  switch (d.kind) {
    case api::DepKind::kAfterOk:
      if (not_ok > 0)
        return {Verdict::kNever, dep + ": " + what + (array ? " has task(s) that ended unsuccessfully" : " ended " + shown)};
      return active > 0 ? wait : DepResult{Verdict::kMet, ""};
    case api::DepKind::kAfterNotOk:
      if (active > 0) return wait;
      if (not_ok > 0) return {Verdict::kMet, ""};
      return {Verdict::kNever, dep + ": " + what + (array ? "'s tasks all SUCCEEDED" : " ended SUCCEEDED")};
    case api::DepKind::kAfterAny:
      return active > 0 ? wait : DepResult{Verdict::kMet, ""};
  }
  return wait;
}

std::string Gates::Blocked(const Active& a, const std::map<int64_t, int>& released, bool* never) {
  std::string waiting;
  for (const api::Dependency& d : a.req.dependency) {
    const auto key = std::make_pair(static_cast<int>(d.kind), d.job);
    auto it = round_.find(key);
    if (it == round_.end()) it = round_.emplace(key, CheckDependency(d)).first;
    const DepResult& r = it->second;
    if (r.verdict == Verdict::kNever) {
      *never = true;
      return r.why;
    }
    if (r.verdict == Verdict::kWait && waiting.empty()) waiting = r.why;
  }
  if (!a.held_by.empty()) return "held by " + a.held_by + " (cnet release " + std::to_string(a.id) + ")";
  if (!waiting.empty()) return waiting;
  if (a.not_before > st_.clock.Now()) {  // temporal shifting (service/time_shift.h)
    next_time_ = std::min(next_time_, a.not_before);
    return a.not_before_why;
  }
  if (a.array_limit > 0) {
    auto it = released.find(a.array_id);
    const int n = it == released.end() ? 0 : it->second;
    if (n >= a.array_limit)
      return "waiting: array " + std::to_string(a.array_id) + " has " + std::to_string(n) +
             " task(s) queued or running, its limit (%" + std::to_string(a.array_limit) + ")";
  }
  return "";
}

bool Gates::Evaluate() {
  if (retry_ || st_.clock.Now() >= next_time_) dirty_ = true;
  retry_ = false;
  bool any = false;
  while (dirty_ || seen_finished_ != st_.finished) {
    dirty_ = false;
    seen_finished_ = st_.finished;
    round_.clear();
    next_time_ = std::numeric_limits<double>::infinity();
    if (gated_.empty()) break;
    std::map<int64_t, int> released;  // array id -> its tasks past the gate (queued, dispatched, running)
    for (const auto& [id, a] : st_.jobs.jobs())
      if (a->array_id > 0 && !a->gated) ++released[a->array_id];
    const std::vector<int64_t> ids(gated_.begin(), gated_.end());
    for (int64_t id : ids) {
      Active* a = st_.jobs.Find(id);
      if (!a || !a->gated) {
        gated_.erase(id);
        continue;
      }
      bool never = false;
      std::string why = Blocked(*a, released, &never);
      if (never) {  // ends it; its own dependants are looked at again in the next round
        if (st_.Finish(*a, JobState::kCancelled, kNeverSatisfied + why, std::nullopt).ok()) gated_.erase(id);
        else retry_ = true;
        any = true;
        continue;
      }
      if (!why.empty()) {
        if (a->reason != why) any = true;
        a->reason = why;
        continue;
      }
      gated_.erase(id);
      a->gated = false;
      if (a->array_id > 0) ++released[a->array_id];
      st_.Hold(*a, "queued", false);
      any = true;
    }
  }
  return any;
}

}  // namespace cnet::service
