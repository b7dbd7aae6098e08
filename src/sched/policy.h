// The policy contract. A policy looks at a Snapshot and returns Decisions as data, each with a
// reason; it never changes state itself (the Scheduler applies decisions in a separate step).
// A policy object may keep its own memory between cycles (e.g. time-sharing deficits); it is
// used from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/rng.h"
#include "model/cluster.h"
#include "sched/capacity.h"
#include "sched/job_record.h"
#include "sched/placement/rules.h"

namespace cnet {

enum class Action { kPlace, kPreempt, kKeep };
const char* ActionName(Action a);

struct Decision {
  Action action = Action::kKeep;
  JobId job;
  Placement placement;  // kPlace only
  std::string reason;
  // kKeep with a reason: when the policy expects the job to start (seconds, the snapshot's clock),
  // from a reservation it holds for it; < 0 when it has none (unknown, never a guess).
  Seconds estimated_start = -1;
};

struct Snapshot {
  Seconds now = 0;
  Seconds round_s = 360;          // length of a scheduling round
  Seconds default_restore_s = 0;  // restore cost of a restart for jobs with no restore_s of their own
  bool round_boundary = true;     // a new round starts now (time-sharing policies act only then)
  // Between rounds, a policy that can may start waiting jobs on free capacity, without preempting
  // or changing a running job (the service asks for it: a job should not wait a round on an idle
  // cluster; elastic-hetero does it, the other time-sharing policies wait for the round).
  bool fill_between_rounds = false;
  bool explain_waiting = false;   // emit kKeep with a reason for jobs left waiting
  // At most this many waiting jobs are explained per cycle (the first ones in queue order), so a
  // cycle over a long queue costs what it places, not what it explains.
  size_t explain_limit = static_cast<size_t>(-1);
  const Cluster* cluster = nullptr;
  const Catalogue* catalogue = nullptr;
  const Capacity* capacity = nullptr;         // free capacity now (running jobs hold theirs)
  // The filters and scorers every placement must go through (never null in a Scheduler's cycle):
  // policies place with FindPlacement(*rules, ...) and order types with rules->RankTypes.
  const PlacementRules* rules = nullptr;
  std::vector<const JobRecord*> pending;      // in submit order
  std::vector<const JobRecord*> running;

  // Whether to explain one more waiting job; counts it in `explained`.
  bool Explain(size_t& explained) const { return explain_waiting && explained++ < explain_limit; }
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // True for round-based time sharing: every round may preempt and re-place any job.
  // False for event-driven policies that never preempt.
  virtual bool time_sharing() const = 0;
  // One decision step. Decisions for one job appear at most once, except Preempt followed by
  // Place (a migration). Placements must fit the snapshot's capacity after the preemptions.
  virtual std::vector<Decision> Decide(const Snapshot& snap, Rng& rng) = 0;
};

}  // namespace cnet
