// What keeps a pending job out of the scheduler besides quotas: a user hold, dependencies on other
// jobs (api/array_deps.h), its array's concurrency limit (%N: at most N tasks of the array
// outside the gate, i.e. queued in the scheduler, dispatched or running, at once), and a planned
// start for a lower-carbon window (Active::not_before, service/time_shift.h).
// A gated job waits in `gated_` (not in the scheduler, not in its tenant's quota queue); Evaluate
// lets through those whose gates opened (to the quota queue, LoopState::Hold) and ends the jobs
// whose dependencies can never be met: CANCELLED with a reason starting kNeverSatisfied, and so
// on down a chain in the same call. Everything it reads is durable (rows, holds, specs), so a
// restart rebuilds the same gates (recovery gates every pending job that has one).
// Loop thread only.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "service/loop_state.h"

namespace cnet::service {

inline constexpr char kNeverSatisfied[] = "DependencyNeverSatisfied: ";

class Gates {
 public:
  explicit Gates(LoopState& st) : st_(st) {}
  // Whether a job (taken in, recovered, reopened, released) may be gated at all.
  static bool HasGate(const Active& a);
  // Puts a pending job behind its gates (it must not be in the scheduler).
  void Gate(Active& a);
  // Something a gate reads changed (a hold, a requeue of a job that had ended: `reopened`).
  void Touch(int64_t reopened = 0) {
    dirty_ = true;
    ended_.erase(reopened);
  }
  // Re-reads the gates when something changed; true if a job moved or a reason changed.
  bool Evaluate();
  bool empty() const { return gated_.empty(); }
  const std::set<int64_t>& gated() const { return gated_; }

 private:
  enum class Verdict { kWait, kMet, kNever };
  struct DepResult {
    Verdict verdict = Verdict::kWait;
    std::string why;  // what it waits for, or why it never will be met
  };
  DepResult CheckDependency(const api::Dependency& d);
  // The end state of a finished job (nullopt while it runs); arrays: every task's.
  std::optional<store::JobState> EndedState(int64_t id);
  std::string Blocked(const Active& a, const std::map<int64_t, int>& released, bool* never);

  LoopState& st_;
  std::set<int64_t> gated_;  // ascending id: older jobs pass first
  std::map<int64_t, store::JobState> ended_;  // dependency targets seen ended (not arrays)
  // Verdicts within one round of Evaluate: many dependants of one array read its tasks once.
  std::map<std::pair<int, int64_t>, DepResult> round_;
  bool dirty_ = true;
  double next_time_ = std::numeric_limits<double>::infinity();  // the earliest not_before still ahead
  bool retry_ = false;       // a read failed: look again next tick
  uint64_t seen_finished_ = 0;
};

}  // namespace cnet::service
