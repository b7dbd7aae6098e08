#include "sched/policy/queue_policies.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "common/strings.h"
#include "model/wording.h"
#include "sched/placement.h"
#include "sched/placement/builtin.h"
#include "sched/policy/reservation.h"

namespace cnet {

namespace {

TypeContext Ctx(const Snapshot& s) { return TypeContext{s.now, s.catalogue, s.cluster}; }

// Types a job can use in the order the rules give, by default fastest first.
std::vector<AccelId> RankedTypes(const JobRecord& j, const Snapshot& s) {
  const FastestTypeScorer fastest;
  return s.rules->RankTypes(j, *s.cluster, Ctx(s), fastest);
}

std::string WhyWaiting(const JobRecord& j, const Snapshot& s) {
  std::string t;
  for (AccelId a : RankedTypes(j, s))
    t += (t.empty() ? "" : ", ") +
         (IsCpuType(*s.catalogue, a) ? CountOf(*s.catalogue, a, s.capacity->FreeOfType(a))
                                     : std::to_string(s.capacity->FreeOfType(a)) + " " + s.catalogue->Get(a).name);
  const bool cpu = AllCpu(*s.catalogue, j.spec.acceptable);
  return "waiting: needs " + std::to_string(j.spec.workers) + (cpu ? " CPUs" : " accelerators") + " on one site; free now: " + t;
}

Decision PlaceDecision(const JobRecord& j, Placement p, std::string why, const Catalogue& cat) {
  why += " -> " + CountOf(cat, p.accel, p.Workers()) + " on " +
         std::to_string(p.Nodes()) + " node(s)";
  return Decision{Action::kPlace, j.spec.id, std::move(p), std::move(why)};
}

class FifoPolicy final : public Policy {
 public:
  explicit FifoPolicy(bool hetero) : hetero_(hetero) {}
  std::string_view name() const override { return hetero_ ? "fifo-hetero" : "fifo"; }
  bool time_sharing() const override { return false; }

  std::vector<Decision> Decide(const Snapshot& s, Rng& rng) override {
    std::vector<Decision> out;
    Capacity cap = *s.capacity;
    for (size_t i = 0; i < s.pending.size(); ++i) {
      const JobRecord& j = *s.pending[i];
      std::vector<AccelId> types = RankedTypes(j, s);
      if (!hetero_) rng.Shuffle(types);
      std::optional<Placement> p;
      for (AccelId a : types)
        if ((p = FindPlacement(*s.rules, cap, j.spec, a))) break;
      if (!p) {
        size_t explained = 0;
        if (s.Explain(explained)) {
          out.push_back({Action::kKeep, j.spec.id, {}, std::string(name()) + ": head of the queue; " + WhyWaiting(j, s)});
          for (size_t k = i + 1; k < s.pending.size() && s.Explain(explained); ++k)
            out.push_back({Action::kKeep, s.pending[k]->spec.id, {},
                           std::string(name()) + ": behind job " + std::to_string(j.spec.id.value()) + " in the queue"});
        }
        break;  // strict FIFO: nobody overtakes the head
      }
      cap.Take(*p);
      out.push_back(PlaceDecision(j, *p, std::string(name()) + (hetero_ ? ": fastest type with room" : ": next in queue, any type"), *s.catalogue));
    }
    return out;
  }

 private:
  bool hetero_;
};

// The smallest gang that failed to place in this cycle, per (type, packages per worker): a larger
// gang of the same type and unit fails too (capacity only shrinks within a cycle). A gang with a
// different unit may still fit (a unit of 1 spreads over nodes with 1 free, a unit of 2 cannot).
class FailedGangs {
 public:
  explicit FailedGangs(size_t types) : by_type_(types) {}
  bool Fails(AccelId a, const JobSpec& j) const {
    for (const auto& [unit, workers] : by_type_[a.value()])
      if (unit == j.unit) return j.workers >= workers;
    return false;
  }
  // Whether every type the job can run on (a positive rate) is known to fail this cycle.
  bool FailsEverywhere(const JobRecord& j, const Cluster& cl) const {
    for (AccelId a : cl.accel_types())
      if (j.rate[a.value()] > 0 && !Fails(a, j.spec)) return false;
    return true;
  }
  void Add(AccelId a, const JobSpec& j) {
    for (auto& [unit, workers] : by_type_[a.value()])
      if (unit == j.unit) {
        workers = std::min(workers, j.workers);
        return;
      }
    by_type_[a.value()].emplace_back(j.unit, j.workers);
  }

 private:
  std::vector<std::vector<std::pair<int, int>>> by_type_;  // (unit, smallest failed workers)
};

class BackfillPolicy final : public Policy {
 public:
  std::string_view name() const override { return "backfill"; }
  bool time_sharing() const override { return false; }

  std::vector<Decision> Decide(const Snapshot& s, Rng&) override {
    std::vector<Decision> out;
    Capacity cap = *s.capacity;
    const Catalogue& cat = *s.catalogue;
    size_t explained = 0;
    // Reservation for the first job that cannot start (the next one, while it has none: a job no
    // usable node can hold blocks nobody).
    const JobRecord* head = nullptr;
    Reservation res;
    bool reserved = false;
    FailedGangs failed(cat.size());
    for (const JobRecord* jp : s.pending) {
      const JobRecord& j = *jp;
      std::optional<Placement> placed;
      bool delays_head = false;  // it would fit now, but only by delaying the reserved head
      const bool cacheable = !s.rules->Restricts(j.spec);
      // The common case in a long queue: a gang shape known to fail everywhere (no ranking).
      if (cacheable && reserved && failed.FailsEverywhere(j, *s.cluster)) {
        if (s.Explain(explained)) out.push_back(Waiting(j, s, *head, false));
        continue;
      }
      for (AccelId a : RankedTypes(j, s)) {
        if (cacheable && failed.Fails(a, j.spec)) continue;
        if (reserved && a == res.type) {
          auto p = FindPlacement(*s.rules, cap, j.spec, a);
          if (!p) continue;
          // On the reserved site it must end before the reservation or use what it leaves over.
          const bool on_reserved = s.cluster->node(p->slots.front().node).site == res.site;
          const bool before = s.now + j.spec.total_steps / j.rate[a.value()] <= res.at;
          if (on_reserved && !before && j.spec.workers > res.extra) {
            delays_head = true;
            continue;
          }
          if (on_reserved && !before) res.extra -= j.spec.workers;
          placed = p;
          break;
        }
        auto p = FindPlacement(*s.rules, cap, j.spec, a);
        if (p) {
          placed = p;
          break;
        }
        if (cacheable) failed.Add(a, j.spec);
      }
      if (placed) {
        cap.Take(*placed);
        out.push_back(PlaceDecision(j, *placed, reserved ? "backfill: fits without delaying the reserved job" : "backfill: head of the queue", cat));
        continue;
      }
      if (!reserved) {
        const bool first = !head;
        head = &j;
        res = Reserve(s, cap, j);
        reserved = res.type.valid();
        if (s.Explain(explained)) {
          out.push_back({Action::kKeep, j.spec.id, {},
                         std::string(first ? "backfill: head of the queue, " : "backfill: no earlier job holds a reservation, ") +
                             DescribeReservation(s, j, res) + "; " + WhyWaiting(j, s)});
          out.back().estimated_start = ReservedStart(res);
        }
      } else if (s.Explain(explained)) {
        out.push_back(Waiting(j, s, *head, delays_head));
      }
    }
    return out;
  }

 private:
  // A later job that does not start: either it would delay the head's reservation, or there is
  // simply no room for it now.
  static Decision Waiting(const JobRecord& j, const Snapshot& s, const JobRecord& head, bool delays_head) {
    const std::string h = "job " + std::to_string(head.spec.id.value());
    return {Action::kKeep, j.spec.id, {},
            delays_head ? "backfill: would delay the reserved start of " + h + " (earlier in the queue); " + WhyWaiting(j, s)
                        : "backfill: no room now, queued behind " + h + "; " + WhyWaiting(j, s)};
  }
};

class CostPolicy final : public Policy {
 public:
  std::string_view name() const override { return "cost-hetero"; }
  bool time_sharing() const override { return false; }

  std::vector<Decision> Decide(const Snapshot& s, Rng&) override {
    const Catalogue& cat = *s.catalogue;
    size_t explained = 0;
    std::vector<const JobRecord*> order = s.pending;
    std::stable_sort(order.begin(), order.end(), [](const JobRecord* a, const JobRecord* b) {
      double da = a->spec.deadline_s.value_or(std::numeric_limits<double>::infinity());
      double db = b->spec.deadline_s.value_or(std::numeric_limits<double>::infinity());
      return da < db;
    });
    std::vector<Decision> out;
    Capacity cap = *s.capacity;
    for (const JobRecord* jp : order) {
      const JobRecord& j = *jp;
      struct Opt {
        AccelId a;
        double cost, finish;
      };
      // Cheapest first (or the rules' own type order).
      const CheapestTypeScorer cheapest;
      std::vector<Opt> opts;
      for (AccelId a : s.rules->RankTypes(j, *s.cluster, Ctx(s), cheapest))
        opts.push_back({a, CheapestTypeScorer::CostUsd(j, a, Ctx(s)),
                        s.now + j.Remaining(s.now) / j.rate[a.value()]});
      double dl = j.spec.deadline_s.value_or(std::numeric_limits<double>::infinity());
      bool any_meets = false;
      std::optional<Placement> p;
      std::string why;
      for (const Opt& o : opts) {
        if (o.finish > dl) continue;
        any_meets = true;
        if ((p = FindPlacement(*s.rules, cap, j.spec, o.a))) {
          why = "cost-hetero: cheapest type that meets the deadline ($" + FormatNumber("%.2f", o.cost) + ")";
          break;
        }
      }
      if (!p && !any_meets) {
        // No type can meet the deadline: take the fastest with room.
        std::sort(opts.begin(), opts.end(), [](const Opt& x, const Opt& y) { return x.finish < y.finish; });
        for (const Opt& o : opts)
          if ((p = FindPlacement(*s.rules, cap, j.spec, o.a))) {
            why = "cost-hetero: no type meets the deadline; fastest with room";
            break;
          }
      }
      if (p) {
        cap.Take(*p);
        out.push_back(PlaceDecision(j, *p, why, cat));
      } else if (s.Explain(explained)) {
        out.push_back({Action::kKeep, j.spec.id, {}, "cost-hetero: " + WhyWaiting(j, s)});
      }
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Policy> MakeFifoPolicy(bool hetero) { return std::make_unique<FifoPolicy>(hetero); }
std::unique_ptr<Policy> MakeBackfillPolicy() { return std::make_unique<BackfillPolicy>(); }
std::unique_ptr<Policy> MakeCostHeteroPolicy() { return std::make_unique<CostPolicy>(); }

}  // namespace cnet
