#include "sched/policy/rounds.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "common/strings.h"
#include "sched/placement.h"

namespace cnet {

namespace {
constexpr double kDeficitClamp = 3.0;  // rounds of memory either way
std::string Pct(double f) { return FormatNumber("%.0f%%", f * 100); }
// A number in (0, 1) fixed by (job, type): splitmix64 of both.
double Unit(JobId j, AccelId a) {
  uint64_t z = static_cast<uint64_t>(j.value()) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(a.value()) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;
}
}  // namespace

std::vector<Decision> RoundRealizer::Realize(const Snapshot& snap, const Allocation& alloc,
                                             const std::string& policy_name) {
  AccountRound(alloc);
  if (auto placed = PlaceUncontended(snap, alloc))
    return Decisions(snap, alloc, *placed, policy_name);
  std::vector<Cand> cands = Candidates(alloc);
  Capacity cap = *snap.capacity;
  for (const JobRecord* r : snap.running) cap.Give(r->placement);
  std::vector<Placement> placed = Place(snap, alloc, cands, cap);
  KeepUncontested(alloc, cap, placed);
  ConserveWork(snap, alloc, cap, placed);
  return Decisions(snap, alloc, placed, policy_name);
}

std::vector<AccelId> RoundRealizer::PreferredTypes(const Snapshot& snap, const JobRecord& j,
                                                   const Capacity& cap) const {
  struct Opt {
    AccelId a;
    bool one_node;
    double key;  // speed-aware: the rate there; agnostic: a weighted random key
    int free;
  };
  std::vector<Opt> opts;
  for (AccelId a : snap.cluster->accel_types()) {
    if (j.rate[a.value()] <= 0 || !snap.rules->AllowsType(j.spec, a)) continue;
    bool one = snap.cluster->MaxPerNode(a) >= j.spec.workers;
    // Agnostic: blind to speed, a draw weighted by free packages (Efraimidis-Spirakis key
    // ln(u)/w, u a hash of job and type), so jobs spread over types as rotating them would,
    // without moving them; deterministic for a job.
    const int free = cap.FreeOfType(a);
    const double key = speed_aware_ ? j.RateOn(a, one ? 1 : 2)
                       : free > 0   ? std::log(Unit(j.spec.id, a)) / free
                                    : -HUGE_VAL;
    opts.push_back({a, one, key, free});
  }
  std::stable_sort(opts.begin(), opts.end(), [](const Opt& x, const Opt& y) {
    if (x.one_node != y.one_node) return x.one_node;
    if (std::abs(x.key - y.key) > 1e-9 * std::max(std::abs(x.key), std::abs(y.key))) return x.key > y.key;
    return x.free > y.free;
  });
  // Types that would split the gang only when no node of any type holds it.
  std::vector<AccelId> out;
  for (const Opt& o : opts)
    if (o.one_node || !opts.front().one_node) out.push_back(o.a);
  return out;
}

std::optional<std::vector<Placement>> RoundRealizer::PlaceUncontended(const Snapshot& snap,
                                                                      const Allocation& alloc) const {
  const size_t M = alloc.jobs.size();
  Capacity cap = *snap.capacity;  // running jobs hold theirs
  std::vector<Placement> placed(M);
  std::vector<size_t> waiting;
  for (size_t m = 0; m < M; ++m) {
    if (alloc.jobs[m]->phase == JobPhase::kRunning) placed[m] = alloc.jobs[m]->placement;
    else waiting.push_back(m);
  }
  // Largest gangs first, so they find whole nodes.
  std::stable_sort(waiting.begin(), waiting.end(), [&](size_t x, size_t y) {
    return alloc.jobs[x]->spec.workers > alloc.jobs[y]->spec.workers;
  });
  for (size_t m : waiting) {
    const JobRecord& j = *alloc.jobs[m];
    for (AccelId a : PreferredTypes(snap, j, cap)) {
      if (cap.FreeOfType(a) < j.spec.workers) continue;
      auto p = FindPlacement(*snap.rules, cap, j.spec, a, nullptr, false);
      if (!p) continue;
      placed[m] = *p;
      cap.Take(*p);
      break;
    }
    if (placed[m].empty()) return std::nullopt;
  }
  if (speed_aware_) Upgrade(snap, alloc, cap, placed);
  return placed;
}

// One-way moves only (to a type at least kUpgrade times faster), so they cannot churn: a job
// moves at most once per faster type, and never back.
void RoundRealizer::Upgrade(const Snapshot& snap, const Allocation& alloc, Capacity& cap,
                            std::vector<Placement>& placed) const {
  constexpr double kUpgrade = 1.25;
  struct Move {
    double gain;
    size_t m;
    Placement to;
  };
  std::vector<Move> moves;
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    const JobRecord& j = *alloc.jobs[m];
    if (j.phase != JobPhase::kRunning) continue;
    const double now = j.RateOn(j.placement.accel, j.placement.Nodes());
    for (AccelId a : PreferredTypes(snap, j, cap)) {
      if (j.rate[a.value()] < kUpgrade * now || cap.FreeOfType(a) < j.spec.workers) continue;
      auto p = FindPlacement(*snap.rules, cap, j.spec, a, nullptr, false);
      if (p && j.RateOn(a, p->Nodes()) >= kUpgrade * now) {
        moves.push_back({j.RateOn(a, p->Nodes()) / now, m, *p});
        break;
      }
    }
  }
  std::stable_sort(moves.begin(), moves.end(), [](const Move& x, const Move& y) { return x.gain > y.gain; });
  for (const Move& mv : moves) {
    const JobRecord& j = *alloc.jobs[mv.m];
    std::optional<Placement> p = mv.to;
    if (!cap.CanTake(*p)) p = FindPlacement(*snap.rules, cap, j.spec, mv.to.accel, nullptr, false);
    if (!p || j.RateOn(p->accel, p->Nodes()) < kUpgrade * j.RateOn(j.placement.accel, j.placement.Nodes()))
      continue;
    cap.Take(*p);
    cap.Give(j.placement);
    placed[mv.m] = *p;
  }
}

void RoundRealizer::KeepUncontested(const Allocation& alloc, Capacity& cap,
                                    std::vector<Placement>& placed) const {
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    const JobRecord& j = *alloc.jobs[m];
    if (j.phase != JobPhase::kRunning || placed[m] == j.placement) continue;
    Placement moved = placed[m];
    if (!moved.empty()) {
      const double now = j.RateOn(j.placement.accel, j.placement.Nodes());
      const double next = j.RateOn(moved.accel, moved.Nodes());
      if (speed_aware_ && next > now * (1 + 1e-9)) continue;  // a move that pays
      cap.Give(moved);
    }
    if (cap.CanTake(j.placement)) {
      placed[m] = j.placement;
      cap.Take(j.placement);
    } else if (!moved.empty()) {
      cap.Take(moved);
    }
  }
}

// Accounts the round that just ended, then owes this round's share.
void RoundRealizer::AccountRound(const Allocation& alloc) {
  const size_t T = alloc.types;
  std::unordered_map<JobId, std::vector<double>> next;
  next.reserve(alloc.jobs.size());
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    const JobRecord* j = alloc.jobs[m];
    auto it = deficit_.find(j->spec.id);
    std::vector<double> d = it == deficit_.end() ? std::vector<double>(T, 0.0) : std::move(it->second);
    if (j->phase == JobPhase::kRunning) d[j->placement.accel.value()] -= 1.0;
    for (size_t a = 0; a < T; ++a)
      d[a] = std::clamp(d[a] + alloc.At(m, a), -kDeficitClamp, kDeficitClamp);
    next.emplace(j->spec.id, std::move(d));
  }
  deficit_ = std::move(next);
}

// Candidates (job, type) by deficit, largest first.
std::vector<RoundRealizer::Cand> RoundRealizer::Candidates(const Allocation& alloc) {
  std::vector<Cand> cands;
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    const auto& d = deficit_[alloc.jobs[m]->spec.id];
    for (size_t a = 0; a < alloc.types; ++a)
      if (alloc.At(m, a) > 1e-6) cands.push_back({m, AccelId(static_cast<int32_t>(a)), d[a] + 1e-3 * alloc.At(m, a)});
  }
  std::sort(cands.begin(), cands.end(), [&](const Cand& x, const Cand& y) {
    if (x.key != y.key) return x.key > y.key;
    return alloc.jobs[x.m]->spec.id < alloc.jobs[y.m]->spec.id;
  });
  return cands;
}

// Selects by counts, then places: jobs staying on their type keep their nodes first, then new
// placements largest gang first, then the next candidates in deficit order.
std::vector<Placement> RoundRealizer::Place(const Snapshot& snap, const Allocation& alloc,
                                            const std::vector<Cand>& cands, Capacity& cap) {
  const size_t M = alloc.jobs.size();
  std::vector<int> left(snap.catalogue->size(), 0);
  for (AccelId a : snap.cluster->accel_types()) left[a.value()] = cap.FreeOfType(a);
  std::vector<AccelId> chosen(M);
  for (const Cand& c : cands) {
    const JobRecord* j = alloc.jobs[c.m];
    if (chosen[c.m].valid() || left[c.a.value()] < j->spec.workers) continue;
    chosen[c.m] = c.a;
    left[c.a.value()] -= j->spec.workers;
  }
  std::vector<Placement> placed(M);
  for (size_t m = 0; m < M; ++m) {
    const JobRecord* j = alloc.jobs[m];
    if (chosen[m].valid() && j->phase == JobPhase::kRunning && j->placement.accel == chosen[m] &&
        cap.CanTake(j->placement)) {
      placed[m] = j->placement;
      cap.Take(placed[m]);
    }
  }
  // First-fit decreasing, so big gangs find whole nodes.
  std::vector<size_t> fresh;
  for (size_t m = 0; m < M; ++m)
    if (chosen[m].valid() && placed[m].empty()) fresh.push_back(m);
  std::stable_sort(fresh.begin(), fresh.end(), [&](size_t x, size_t y) {
    return alloc.jobs[x]->spec.workers > alloc.jobs[y]->spec.workers;
  });
  // The allocation assumed each gang's one-node rate: no spreading here.
  for (size_t m : fresh) {
    auto p = FindPlacement(*snap.rules, cap, alloc.jobs[m]->spec, chosen[m], nullptr, false);
    if (p) {
      placed[m] = *p;
      cap.Take(*p);
    }
  }
  for (const Cand& c : cands) {
    if (!placed[c.m].empty()) continue;
    const JobRecord* j = alloc.jobs[c.m];
    if (cap.FreeOfType(c.a) < j->spec.workers) continue;
    auto p = FindPlacement(*snap.rules, cap, j->spec, c.a, nullptr, false);
    if (p) {
      placed[c.m] = *p;
      cap.Take(*p);
    }
  }
  return placed;
}

// Work conservation: accelerators nobody is owed this round go to jobs left out that can use
// them: by relative speed there (rate / the job's best rate) when speed-aware, else by what the
// job is owed on that type.
void RoundRealizer::ConserveWork(const Snapshot& snap, const Allocation& alloc, Capacity& cap,
                                 std::vector<Placement>& placed) {
  std::vector<std::pair<double, std::pair<size_t, AccelId>>> idle;
  std::vector<char> one_node_type(alloc.jobs.size(), 0);  // some usable type holds it on one node
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    if (!placed[m].empty()) continue;
    const JobRecord* j = alloc.jobs[m];
    for (AccelId a : snap.cluster->accel_types())
      one_node_type[m] |= j->rate[a.value()] > 0 && snap.cluster->MaxPerNode(a) >= j->spec.workers;
    double best = j->BestRate();
    const auto& d = deficit_[j->spec.id];
    for (AccelId a : snap.cluster->accel_types())
      if (j->rate[a.value()] > 0 && cap.FreeOfType(a) >= j->spec.workers)
        idle.push_back({speed_aware_ ? j->rate[a.value()] / best : d[a.value()], {m, a}});
  }
  // Equal gains: the type with more free packages first, not the first in catalogue order.
  std::stable_sort(idle.begin(), idle.end(), [&cap](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first > y.first;
    return cap.FreeOfType(x.second.second) > cap.FreeOfType(y.second.second);
  });
  for (const auto& [gain, ma] : idle) {
    auto [m, a] = ma;
    if (!placed[m].empty() || cap.FreeOfType(a) < alloc.jobs[m]->spec.workers) continue;
    const JobSpec& spec = alloc.jobs[m]->spec;
    // A gang no node of this type holds: an agnostic policy splits it only when no node of any
    // type would hold it; a speed-aware one when the split still runs at half its best speed.
    const bool one_node = snap.cluster->MaxPerNode(a) >= spec.workers;
    std::optional<Placement> p;
    if (one_node || (!speed_aware_ && !one_node_type[m]))
      p = FindPlacement(*snap.rules, cap, spec, a, nullptr, false);
    if (!p && speed_aware_) {
      p = FindPlacement(*snap.rules, cap, spec, a);
      // Spread only where it still runs at a useful fraction of the job's best speed.
      if (p && alloc.jobs[m]->RateOn(a, p->Nodes()) < 0.5 * alloc.jobs[m]->BestRate()) p.reset();
    }
    if (p) {
      placed[m] = *p;
      cap.Take(*p);
    }
  }
}

std::vector<Decision> RoundRealizer::Decisions(const Snapshot& snap, const Allocation& alloc,
                                               const std::vector<Placement>& placed,
                                               const std::string& policy_name) const {
  const Catalogue& cat = *snap.catalogue;
  std::vector<Decision> out;
  size_t explained = 0;
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    const JobRecord* j = alloc.jobs[m];
    const Placement& p = placed[m];
    std::string share;
    for (size_t a = 0; a < alloc.types; ++a)
      if (alloc.At(m, a) > 1e-6)
        share += (share.empty() ? "" : ", ") + Pct(alloc.At(m, a)) + " " + cat.Get(AccelId(static_cast<int32_t>(a))).name;
    if (share.empty()) share = "no share this round";
    std::string why = policy_name + ": time share " + share;
    bool running = j->phase == JobPhase::kRunning;
    if (running && p == j->placement) {
      if (snap.Explain(explained)) out.push_back({Action::kKeep, j->spec.id, {}, why});
      continue;
    }
    if (running) out.push_back({Action::kPreempt, j->spec.id, {}, why + (p.empty() ? "; round given to jobs owed more" : "; moving")});
    if (!p.empty())
      out.push_back({Action::kPlace, j->spec.id, p, why + "; " + cat.Get(p.accel).name + " this round"});
    else if (!running && snap.Explain(explained))
      out.push_back({Action::kKeep, j->spec.id, {}, why + "; waiting: others are owed more"});
  }
  return out;
}

}  // namespace cnet
