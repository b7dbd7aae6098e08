#include "sched/policy/elastic.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <string>

#include "sched/placement.h"

namespace cnet {

namespace {

// A size step must add at least this fraction of the gang's current per-accelerator throughput
// (Pollux's argument: accelerators that barely speed a job up serve others better).
constexpr double kMinStepEfficiency = 0.5;
// A change is judged over the job's remaining time, at most this many rounds (the plan is
// revisited every round, so gains further out are not promised).
constexpr double kHorizonRounds = 4;

struct Plan {
  const JobRecord* j = nullptr;
  std::vector<int> sizes;  // ascending
  double ref = 0;          // best rate at the declared size: normalised throughput 1
  double discount = 1;     // value factor of a gang other than the running one (restore cost)
  double las = 0;          // attained accelerator-seconds / priority
  bool running = false;
  AccelId a;               // chosen type and size; w == 0: none this round
  int w = 0;
  Placement placed;
};

JobSpec Sized(const JobSpec& s, int w) {
  JobSpec c = s;
  c.workers = w;
  return c;
}

class ElasticHetero final : public Policy {
 public:
  std::string_view name() const override { return "elastic-hetero"; }
  bool time_sharing() const override { return true; }

  std::vector<Decision> Decide(const Snapshot& snap, Rng&) override {
    if (!snap.round_boundary && !snap.fill_between_rounds) return {};
    s_ = &snap;
    if (!snap.round_boundary) return Fill();
    std::vector<Plan> plans = MakePlans();
    Capacity base = *snap.capacity;
    for (const JobRecord* r : snap.running) base.Give(r->placement);
    left_.assign(snap.catalogue->size(), 0);
    for (AccelId a : snap.cluster->accel_types()) left_[a.value()] = base.FreeOfType(a);
    std::vector<size_t> order = LasOrder(plans);
    const bool contended = Contended(plans);
    Floor(plans, order, contended);
    Grow(plans);
    Realize(plans, order, base);
    return Decisions(plans, contended);
  }

 private:
  // Between rounds: waiting jobs, in LAS order, on the capacity free now (steps 1-3 over them
  // alone); running gangs stay as they are.
  std::vector<Decision> Fill() {
    std::vector<Plan> plans = MakePlans(/*running=*/false);
    if (plans.empty()) return {};
    left_.assign(s_->catalogue->size(), 0);
    for (AccelId a : s_->cluster->accel_types()) left_[a.value()] = s_->capacity->FreeOfType(a);
    std::vector<size_t> order = LasOrder(plans);
    Floor(plans, order, /*contended=*/true);
    Grow(plans);
    Realize(plans, order, *s_->capacity);
    return Decisions(plans, /*contended=*/false);  // the wording: no free nodes hold it
  }

  // Steps/s of j as a gang of w on type a: one node where a node of a holds it; spread only when
  // no type holds it on one node. 0 where it cannot run.
  double Rate(const JobRecord& j, AccelId a, int w) const {
    if (!s_->rules->AllowsType(j.spec, a)) return 0;
    const bool one = s_->cluster->MaxPerNode(a) >= w;
    if (!one) {
      for (AccelId b : s_->cluster->accel_types())
        if (s_->cluster->MaxPerNode(b) >= w && j.RateAt(b, w, 1) > 0 && s_->rules->AllowsType(j.spec, b)) return 0;
    }
    return j.RateAt(a, w, one ? 1 : 2);
  }
  // Normalised throughput of (a, w) for plan p, less the restore cost of a change.
  double Value(const Plan& p, AccelId a, int w) const {
    const double u = Rate(*p.j, a, w) / p.ref;
    const bool same = p.running && p.j->placement.accel == a && p.j->placement.Workers() == w;
    return p.running && !same ? u * p.discount : u;
  }

  std::vector<Plan> MakePlans(bool with_running = true) const {
    std::vector<Plan> out;
    auto add = [&](const JobRecord* j, bool running) {
      Plan p;
      p.j = j;
      p.running = running;
      p.sizes = j->sizes.empty() ? std::vector<int>{j->spec.workers} : j->sizes;
      for (AccelId a : s_->cluster->accel_types()) p.ref = std::max(p.ref, Rate(*j, a, j->spec.workers));
      for (int w : p.sizes)
        for (AccelId a : s_->cluster->accel_types())
          if (p.ref <= 0) p.ref = std::max(p.ref, Rate(*j, a, w));
      if (p.ref <= 0) p.ref = 1;  // runs nowhere: no config will have a rate
      double attained = j->attained_s;
      if (running) {
        attained += j->placement.Workers() * std::max(0.0, s_->now - j->anchor_s);
        const double left_s = j->rate_now > 0 ? j->Remaining(s_->now) / j->rate_now : 0;
        const double horizon = std::min(left_s, kHorizonRounds * s_->round_s);
        const double restore = j->spec.restore_s.value_or(s_->default_restore_s);
        p.discount = horizon > 0 ? std::max(0.0, 1 - restore / horizon) : 0;
      }
      p.las = attained / j->spec.priority;
      out.push_back(std::move(p));
    };
    if (with_running)
      for (const JobRecord* j : s_->running) add(j, true);
    for (const JobRecord* j : s_->pending) add(j, false);
    return out;
  }

  static std::vector<size_t> LasOrder(const std::vector<Plan>& plans) {
    std::vector<size_t> order(plans.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      const JobSpec &a = plans[x].j->spec, &b = plans[y].j->spec;
      if (plans[x].las != plans[y].las) return plans[x].las < plans[y].las;
      if (a.submit_time_s != b.submit_time_s) return a.submit_time_s < b.submit_time_s;
      return a.id < b.id;
    });
    return order;
  }

  // Types for (p, w), best value first; ties: the running type, then more packages left.
  std::vector<AccelId> Types(const Plan& p, int w) const {
    std::vector<std::pair<double, AccelId>> v;
    for (AccelId a : s_->cluster->accel_types())
      if (Rate(*p.j, a, w) > 0) v.push_back({Value(p, a, w), a});
    std::stable_sort(v.begin(), v.end(), [&](const auto& x, const auto& y) {
      if (x.first != y.first) return x.first > y.first;
      const bool xr = p.running && p.j->placement.accel == x.second;
      const bool yr = p.running && p.j->placement.accel == y.second;
      if (xr != yr) return xr;
      return left_[x.second.value()] > left_[y.second.value()];
    });
    std::vector<AccelId> out;
    for (const auto& [val, a] : v) out.push_back(a);
    return out;
  }

  // True unless every waiting job fits, at its smallest size, beside the running gangs.
  bool Contended(const std::vector<Plan>& plans) const {
    Capacity trial = *s_->capacity;
    std::vector<const Plan*> waiting;
    for (const Plan& p : plans)
      if (!p.running) waiting.push_back(&p);
    std::stable_sort(waiting.begin(), waiting.end(),
                     [](const Plan* x, const Plan* y) { return x->sizes.front() > y->sizes.front(); });
    for (const Plan* p : waiting) {
      std::optional<Placement> got;
      const JobSpec spec = Sized(p->j->spec, p->sizes.front());
      for (AccelId a : Types(*p, spec.workers)) {
        if (trial.FreeOfType(a) < spec.workers) continue;
        if ((got = FindPlacement(*s_->rules, trial, spec, a, nullptr, false))) break;
      }
      if (!got) return true;
      trial.Take(*got);
    }
    return false;
  }

  // Step 1: which jobs run, in LAS order (uncontended: every running job keeps its gang), each at
  // its smallest size; then their types, by regret: the job that loses most by not getting its
  // best type with room chooses first (a greedy assignment: jobs that gain most from a fast type
  // get it, as Gavel's LP would give it to them, without an LP per round).
  void Floor(std::vector<Plan>& plans, const std::vector<size_t>& order, bool contended) {
    if (!contended) {
      for (Plan& p : plans)
        if (p.running) Grant(p, p.j->placement.accel, p.j->placement.Workers());
    }
    std::vector<size_t> chosen;
    for (size_t m : order) {
      Plan& p = plans[m];
      if (p.w > 0) continue;
      const int w = p.sizes.front();
      for (AccelId a : Types(p, w))
        if (left_[a.value()] >= w) {
          Grant(p, a, w);
          chosen.push_back(m);
          break;
        }
    }
    for (size_t m : chosen) Ungrant(plans[m]);
    AssignByRegret(plans, chosen);
    if (!contended) Upgrade(plans);
  }
  // Grants each chosen job its smallest size on a type, the job with the largest regret first.
  void AssignByRegret(std::vector<Plan>& plans, const std::vector<size_t>& chosen) {
    std::vector<char> done(chosen.size(), 0);
    for (size_t round = 0; round < chosen.size(); ++round) {
      double best_regret = -1;
      size_t pick = chosen.size();
      AccelId pick_a;
      for (size_t k = 0; k < chosen.size(); ++k) {
        if (done[k]) continue;
        const Plan& p = plans[chosen[k]];
        const int w = p.sizes.front();
        double v1 = -1, v2 = 0;
        AccelId a1;
        for (AccelId a : s_->cluster->accel_types()) {
          if (left_[a.value()] < w || Rate(*p.j, a, w) <= 0) continue;
          const double v = Value(p, a, w);
          if (v > v1) {
            v2 = std::max(v2, v1);
            v1 = v;
            a1 = a;
          } else {
            v2 = std::max(v2, v);
          }
        }
        if (v1 < 0) continue;  // no room left on any of its types
        if (v1 - v2 > best_regret + 1e-12) {
          best_regret = v1 - v2;
          pick = k;
          pick_a = a1;
        }
      }
      if (pick == chosen.size()) break;
      done[pick] = 1;
      Grant(plans[chosen[pick]], pick_a, plans[chosen[pick]].sizes.front());
    }
  }
  void Ungrant(Plan& p) {
    if (p.w > 0) left_[p.a.value()] += p.w;
    p.a = AccelId();
    p.w = 0;
  }
  // Uncontended rounds: a running job moves to a type with room where it runs (at its size or
  // larger, after its restore cost) at least kUpgrade times faster; largest gain first. One-way:
  // it never pays to move back.
  void Upgrade(std::vector<Plan>& plans) {
    constexpr double kUpgrade = 1.25;
    struct Move {
      double value;
      AccelId to;
      int w;
    };
    auto best_move = [&](const Plan& p) {
      Move best{kUpgrade * Value(p, p.a, p.w), AccelId(), 0};
      for (AccelId b : s_->cluster->accel_types()) {
        if (b == p.a) continue;
        for (int w : p.sizes)
          if (w >= p.w && w <= left_[b.value()] && Value(p, b, w) >= best.value) best = {Value(p, b, w), b, w};
      }
      return best;
    };
    std::vector<std::pair<double, size_t>> gains;
    for (size_t m = 0; m < plans.size(); ++m) {
      const Plan& p = plans[m];
      if (!p.running || p.w == 0 || Value(p, p.a, p.w) <= 0) continue;
      Move mv = best_move(p);
      if (mv.to.valid()) gains.push_back({mv.value / Value(p, p.a, p.w), m});
    }
    std::stable_sort(gains.begin(), gains.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    for (const auto& [g, m] : gains) {
      Plan& p = plans[m];
      Move mv = best_move(p);  // again: earlier moves took room
      if (!mv.to.valid()) continue;
      Ungrant(p);
      Grant(p, mv.to, mv.w);
    }
  }
  void Grant(Plan& p, AccelId a, int w) {
    left_[a.value()] -= w - (p.a == a ? p.w : 0);
    p.a = a;
    p.w = w;
  }

  // Step 2: size steps by gain in log normalised throughput per added accelerator (proportional
  // fairness: a job shrunk far below its declared size gains most from growing back). A step may
  // jump several sizes (scaling is often uneven: 1 -> 2 may barely help where 1 -> 8 does).
  void Grow(std::vector<Plan>& plans) {
    struct Step {
      double gain;
      size_t m;
      int to;
      bool operator<(const Step& o) const { return gain != o.gain ? gain < o.gain : m > o.m; }
    };
    std::priority_queue<Step> q;
    auto push = [&](size_t m) {
      const Plan& p = plans[m];
      if (p.w == 0) return;
      const double r0 = Rate(*p.j, p.a, p.w), v0 = Value(p, p.a, p.w);
      Step best{0, m, 0};
      for (auto it = std::upper_bound(p.sizes.begin(), p.sizes.end(), p.w); it != p.sizes.end(); ++it) {
        const int add = *it - p.w;
        if (left_[p.a.value()] < add) break;
        const double r1 = Rate(*p.j, p.a, *it), v1 = Value(p, p.a, *it);
        // Up to its declared size a job may always grow back; beyond it, only where it pays.
        const bool beyond = *it > p.j->spec.workers;
        if (r1 <= r0 || v1 <= 0 || (beyond && (r1 - r0) / add < kMinStepEfficiency * r0 / p.w)) continue;
        // A grant worth nothing (a change its restore cost eats) gains everything by growing back.
        const double gain = p.j->spec.priority * (v0 > 0 ? std::log(v1 / v0) : 1e9 + v1) / add;
        if (gain > best.gain) best = {gain, m, *it};
      }
      if (best.to > 0) q.push(best);
    };
    for (size_t m = 0; m < plans.size(); ++m) push(m);
    while (!q.empty()) {
      Step s = q.top();
      q.pop();
      Plan& p = plans[s.m];
      if (left_[p.a.value()] < s.to - p.w) {  // taken meanwhile: look again at what is left
        push(s.m);
        continue;
      }
      Grant(p, p.a, s.to);
      push(s.m);
    }
  }

  static bool RunningGangFree(const Capacity& cap, const Plan& p) {
    return p.running && cap.CanTake(p.j->placement);
  }
  // Nodes for a gang of w of type a, where the job runs at a positive rate on them (a smaller
  // size tried as a fallback may not run on a: the Gavel multi-GPU run hit that).
  std::optional<Placement> Find(const Capacity& cap, const Plan& p, AccelId a, int w) const {
    if (cap.FreeOfType(a) < w || Rate(*p.j, a, w) <= 0) return std::nullopt;
    auto got = FindPlacement(*s_->rules, cap, Sized(p.j->spec, w), a, nullptr, false);
    if (got && p.j->RateAt(a, w, got->Nodes()) <= 0) {
      return std::nullopt;  // e.g. spread where only one node was measured to work
    }
    return got;
  }

  // Step 3: nodes for the plan (see the header for the order).
  void Realize(std::vector<Plan>& plans, const std::vector<size_t>& order, Capacity cap) const {
    std::vector<size_t> changes, starts;
    for (size_t m = 0; m < plans.size(); ++m) {
      Plan& p = plans[m];
      if (p.w == 0) continue;
      if (p.running && p.a == p.j->placement.accel && p.w == p.j->placement.Workers() &&
          cap.CanTake(p.j->placement)) {  // (not when its nodes went offline)
        p.placed = p.j->placement;
        cap.Take(p.placed);
      } else {
        (p.running ? changes : starts).push_back(m);
      }
    }
    auto larger = [&](size_t x, size_t y) { return plans[x].w > plans[y].w; };
    std::stable_sort(changes.begin(), changes.end(), larger);
    std::stable_sort(starts.begin(), starts.end(), larger);
    std::vector<char> held(plans.size(), 0);  // old gangs held until their job's change lands
    for (size_t m : changes)
      if (RunningGangFree(cap, plans[m])) {
        cap.Take(plans[m].j->placement);
        held[m] = 1;
      }
    for (size_t m : changes) {
      Plan& p = plans[m];
      if (held[m]) cap.Give(p.j->placement);
      auto got = Find(cap, p, p.a, p.w);
      if (got) p.placed = *got;
      else if (held[m]) p.placed = p.j->placement;
      if (!p.placed.empty()) cap.Take(p.placed);
    }
    for (size_t m : starts) {
      Plan& p = plans[m];
      for (auto it = p.sizes.rbegin(); it != p.sizes.rend() && p.placed.empty(); ++it)
        if (*it <= p.w)
          if (auto got = Find(cap, p, p.a, *it)) p.placed = *got;
      if (!p.placed.empty()) cap.Take(p.placed);
    }
    // What fragmentation or power caps left: jobs with nothing, in LAS order; a running job first
    // keeps its old gang if it is still free.
    for (size_t m : order) {
      Plan& p = plans[m];
      if (!p.placed.empty()) continue;
      if (p.running && cap.CanTake(p.j->placement)) {
        p.placed = p.j->placement;
      } else {
        for (AccelId a : Types(p, p.sizes.front()))
          if (auto got = Find(cap, p, a, p.sizes.front())) {
            p.placed = *got;
            break;
          }
      }
      if (!p.placed.empty()) cap.Take(p.placed);
    }
  }

  std::vector<Decision> Decisions(const std::vector<Plan>& plans, bool contended) const {
    const Catalogue& cat = *s_->catalogue;
    auto gang = [&](const Placement& pl) {
      return std::to_string(pl.Workers()) + " x " + cat.Get(pl.accel).name;
    };
    std::vector<Decision> out;
    size_t explained = 0;
    // Jobs in id order, so decisions do not depend on the snapshot's order.
    std::vector<const Plan*> by_id;
    for (const Plan& p : plans) by_id.push_back(&p);
    std::stable_sort(by_id.begin(), by_id.end(),
                     [](const Plan* x, const Plan* y) { return x->j->spec.id < y->j->spec.id; });
    for (const Plan* pp : by_id) {
      const Plan& p = *pp;
      const JobId id = p.j->spec.id;
      const std::string who = "elastic-hetero: ";
      if (p.running && p.placed == p.j->placement) {
        if (s_->Explain(explained)) out.push_back({Action::kKeep, id, {}, who + gang(p.placed) + ", kept"});
        continue;
      }
      if (p.running) {
        std::string why = p.placed.empty() ? "round given to jobs with less attained service"
                          : p.placed.accel != p.j->placement.accel ? "moving to " + gang(p.placed)
                          : "resizing from " + std::to_string(p.j->placement.Workers()) + " to " +
                                std::to_string(p.placed.Workers());
        out.push_back({Action::kPreempt, id, {}, who + why + " (checkpoint/restart)"});
      }
      if (!p.placed.empty()) {
        out.push_back({Action::kPlace, id, p.placed, who + gang(p.placed) + " this round"});
      } else if (!p.running && s_->Explain(explained)) {
        out.push_back({Action::kKeep, id, {},
                       who + (contended ? "waiting: jobs with less attained service hold the accelerators"
                                        : "waiting: no free nodes hold its smallest gang (" +
                                              std::to_string(p.sizes.front()) + ")")});
      }
    }
    return out;
  }

  const Snapshot* s_ = nullptr;
  std::vector<int> left_;  // packages per type not yet granted this round
};

}  // namespace

std::unique_ptr<Policy> MakeElasticHeteroPolicy() { return std::make_unique<ElasticHetero>(); }

}  // namespace cnet
