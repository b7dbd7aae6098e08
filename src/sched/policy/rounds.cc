#include "sched/policy/rounds.h"

#include <algorithm>
#include <unordered_set>

#include "common/strings.h"
#include "sched/placement.h"

namespace cnet {

namespace {
constexpr double kDeficitClamp = 3.0;  // rounds of memory either way
std::string Pct(double f) { return FormatNumber("%.0f%%", f * 100); }
}  // namespace

std::vector<Decision> RoundRealizer::Realize(const Snapshot& snap, const Allocation& alloc,
                                             const std::string& policy_name) {
  AccountRound(alloc);
  std::vector<Cand> cands = Candidates(alloc);
  Capacity cap = *snap.capacity;
  for (const JobRecord* r : snap.running) cap.Give(r->placement);
  std::vector<Placement> placed = Place(snap, alloc, cands, cap);
  ConserveWork(snap, alloc, cap, placed);
  return Decisions(snap, alloc, placed, policy_name);
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
  for (size_t m = 0; m < alloc.jobs.size(); ++m) {
    if (!placed[m].empty()) continue;
    const JobRecord* j = alloc.jobs[m];
    double best = j->BestRate();
    const auto& d = deficit_[j->spec.id];
    for (AccelId a : snap.cluster->accel_types())
      if (j->rate[a.value()] > 0 && cap.FreeOfType(a) >= j->spec.workers)
        idle.push_back({speed_aware_ ? j->rate[a.value()] / best : d[a.value()], {m, a}});
  }
  std::stable_sort(idle.begin(), idle.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  for (const auto& [gain, ma] : idle) {
    auto [m, a] = ma;
    if (!placed[m].empty() || cap.FreeOfType(a) < alloc.jobs[m]->spec.workers) continue;
    auto p = FindPlacement(*snap.rules, cap, alloc.jobs[m]->spec, a, nullptr, false);
    if (!p && speed_aware_) {
      p = FindPlacement(*snap.rules, cap, alloc.jobs[m]->spec, a);
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
