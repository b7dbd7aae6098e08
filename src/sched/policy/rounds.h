// Turns an allocation (fraction of time each job should spend on each accelerator type) into one
// round's placements, as Gavel's round-based mechanism does: each job carries a deficit per type
// (time owed minus time received, in rounds); the round serves the largest deficits first, keeps
// a job on its nodes when it stays on the same type, and preempts the rest. A running job is
// never preempted or moved when nothing contends for what it holds: when every waiting job fits
// in what running jobs leave free, the round only starts the waiting ones; otherwise a job whose
// nodes nobody else takes this round keeps them. (A speed-aware policy on an uncontended
// cluster still moves a job once to a type with room where it runs at least 1.25x faster: a
// one-way upgrade, not churn.) Stateful (deficits); one instance per policy;
// not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/policy.h"

namespace cnet {

struct Allocation {
  std::vector<const JobRecord*> jobs;  // rows
  std::vector<double> x;               // jobs * num_types (catalogue size), time fractions
  size_t types = 0;
  double At(size_t m, size_t j) const { return x[m * types + j]; }
};

class RoundRealizer {
 public:
  // speed_aware: whether idle accelerators left after the allocation is served go to the jobs
  // that run relatively fastest there (hetero policies) or to those owed most (agnostic ones,
  // which must not use speed information).
  explicit RoundRealizer(bool speed_aware) : speed_aware_(speed_aware) {}
  std::vector<Decision> Realize(const Snapshot& snap, const Allocation& alloc,
                                const std::string& policy_name);

 private:
  struct Cand {  // job m of the allocation on type a, served by `key` (largest first)
    size_t m;
    AccelId a;
    double key;
  };
  void AccountRound(const Allocation& alloc);
  std::vector<Cand> Candidates(const Allocation& alloc);
  // Running jobs kept, waiting ones placed in free capacity; nullopt when some waiting job does
  // not fit (then the deficits decide).
  std::optional<std::vector<Placement>> PlaceUncontended(const Snapshot& snap,
                                                         const Allocation& alloc) const;
  // Speed-aware only: running jobs move to a type with room where they run at least 1.25x
  // faster (largest gain first). Into `placed` and `cap`.
  void Upgrade(const Snapshot& snap, const Allocation& alloc, Capacity& cap,
               std::vector<Placement>& placed) const;
  // Types job m may use, best first: one node holds its gang, then (speed-aware) faster, then
  // more free packages (so equal rates do not all go to the first type in catalogue order).
  std::vector<AccelId> PreferredTypes(const Snapshot& snap, const JobRecord& j,
                                      const Capacity& cap) const;
  // Running jobs preempted, or moved without running faster, keep their old nodes when nobody
  // took them this round.
  void KeepUncontested(const Allocation& alloc, Capacity& cap, std::vector<Placement>& placed) const;
  // Placements this round (empty: none), into `cap` (which starts with every job stopped).
  std::vector<Placement> Place(const Snapshot& snap, const Allocation& alloc,
                               const std::vector<Cand>& cands, Capacity& cap);
  void ConserveWork(const Snapshot& snap, const Allocation& alloc, Capacity& cap,
                    std::vector<Placement>& placed);
  std::vector<Decision> Decisions(const Snapshot& snap, const Allocation& alloc,
                                  const std::vector<Placement>& placed,
                                  const std::string& policy_name) const;

  bool speed_aware_;
  std::unordered_map<JobId, std::vector<double>> deficit_;
};

}  // namespace cnet
