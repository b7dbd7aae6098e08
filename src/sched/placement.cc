#include "sched/placement.h"

#include <algorithm>
#include <map>

namespace cnet {

namespace {

// Packages of a node usable now: free (with the host CPUs the job needs), and within its rack's
// power headroom.
int Usable(const Capacity& cap, const JobSpec& job, const Node& n, double delta) {
  int f = cap.FreeFor(n.id, job.unit, job.cpus_per_worker);
  if (delta <= 0) return f;
  return std::min(f, PowerSlots(cap.RackHeadroomW(n.rack), delta));
}

// Strategy 1: the whole gang on the node the scorer likes best.
std::optional<Placement> PlaceOnOneNode(const PlacementRules& rules, const Capacity& cap,
                                        const JobSpec& job, AccelId a, double delta) {
  const Cluster& cl = cap.cluster();
  const NodeScorer& scorer = rules.node_scorer();
  const double bound = scorer.Bound(cap, job);
  const bool filtered = rules.Restricts(job);  // else every node passes: skip the calls
  const Node* best = nullptr;
  double best_score = 0;
  for (NodeId id : cl.NodesWith(a)) {
    const Node& n = cl.node(id);
    if (Usable(cap, job, n, delta) < job.workers || (filtered && !rules.AllowsNode(job, n))) continue;
    double s = scorer.Score(cap, job, n);
    if (!best || s > best_score) {
      best = &n;
      best_score = s;
      if (s >= bound) break;
    }
  }
  if (!best) return std::nullopt;
  return Placement{a, {Slot{best->id, job.workers}}};
}

// Free whole workers' packages per node of one rack, for the spreading strategies.
struct RackGroup {
  std::vector<std::pair<int, NodeId>> free;  // (free, node)
  int total = 0;
};

struct Spread {
  const Capacity& cap;
  const JobSpec& job;
  AccelId a;
  int unit;
  double delta;
  std::map<int, RackGroup> racks;  // by rack id

  // Power headroom is per rack, so within a rack the usable total is
  // min(sum of free, headroom / delta).
  int RackUsable(int rack, const RackGroup& g) const {
    return std::min(g.total, PowerSlots(cap.RackHeadroomW(RackId(rack)), delta)) / unit * unit;
  }
  // Fills from the largest free nodes first, so the gang uses as few nodes as possible. Returns
  // how many packages of `want` are still missing.
  int Take(RackGroup& g, int want, Placement& p) const {
    std::sort(g.free.begin(), g.free.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    for (const auto& [f, id] : g.free) {
      if (want == 0) break;
      int k = std::min(f / unit * unit, want);
      if (k == 0) continue;
      p.slots.push_back(Slot{id, k});
      want -= k;
    }
    return want;
  }
};

Spread GroupByRack(const PlacementRules& rules, const Capacity& cap, const JobSpec& job, AccelId a,
                   double delta) {
  const int unit = std::max(1, job.unit);
  Spread sp{cap, job, a, unit, delta, {}};
  const Cluster& cl = cap.cluster();
  const bool filtered = rules.Restricts(job);
  for (NodeId id : cl.NodesWith(a)) {
    const Node& n = cl.node(id);
    int f = cap.FreeFor(id, unit, job.cpus_per_worker) / unit * unit;
    if (f == 0 || (filtered && !rules.AllowsNode(job, n))) continue;
    RackGroup& g = sp.racks[n.rack.value()];
    g.free.emplace_back(f, id);
    g.total += f;
  }
  return sp;
}

// Strategy 2: several nodes of the rack with the smallest sufficient usable total.
std::optional<Placement> PlaceInOneRack(Spread& sp) {
  const int w = sp.job.workers;
  int best_rack = -1, best_total = 1 << 30;
  for (auto& [r, g] : sp.racks) {
    int u = sp.RackUsable(r, g);
    if (u >= w && u < best_total) {
      best_rack = r;
      best_total = u;
    }
  }
  if (best_rack < 0) return std::nullopt;
  Placement p{sp.a, {}};
  sp.Take(sp.racks[best_rack], w, p);
  return p;
}

// Strategy 3: several racks of the site with the smallest sufficient total, largest racks first.
std::optional<Placement> PlaceInOneSite(Spread& sp) {
  const int w = sp.job.workers;
  const Cluster& cl = sp.cap.cluster();
  std::map<int, std::vector<int>> site_racks;
  std::map<int, int> site_total;
  for (auto& [r, g] : sp.racks) {
    int s = cl.rack(RackId(r)).site.value();
    site_racks[s].push_back(r);
    site_total[s] += sp.RackUsable(r, g);
  }
  int best_site = -1;
  for (auto& [s, t] : site_total)
    if (t >= w && (best_site < 0 || t < site_total[best_site])) best_site = s;
  if (best_site < 0) return std::nullopt;
  auto& rs = site_racks[best_site];
  std::sort(rs.begin(), rs.end(), [&](int x, int y) {
    int ux = sp.RackUsable(x, sp.racks[x]), uy = sp.RackUsable(y, sp.racks[y]);
    return ux != uy ? ux > uy : x < y;
  });
  Placement p{sp.a, {}};
  int want = w;
  for (int r : rs) {
    if (want == 0) break;
    int k = std::min(want, sp.RackUsable(r, sp.racks[r]));
    if (k == 0) continue;
    int left = sp.Take(sp.racks[r], k, p);
    want -= k - left;
  }
  if (want > 0) return std::nullopt;
  return p;
}

bool Keeps(const PlacementRules& rules, const Capacity& cap, const JobSpec& job, AccelId a,
           const Placement& prefer) {
  return prefer.accel == a && prefer.Workers() == job.workers && cap.CanTake(prefer) &&
         rules.Check(job, prefer, cap.cluster()).ok();
}

}  // namespace

Placement WithHostCpus(Placement p, const JobSpec& job) {
  if (job.cpus_per_worker > 0) {
    p.unit = std::max(1, job.unit);
    p.cpus_per_unit = job.cpus_per_worker;
  }
  return p;
}

namespace {

std::optional<Placement> Find(const PlacementRules& rules, const Capacity& cap, const JobSpec& job, AccelId a,
                              const Placement* prefer, bool allow_spread) {
  const int w = job.workers;
  if (cap.FreeOfType(a) < w) return std::nullopt;
  if (prefer && Keeps(rules, cap, job, a, WithHostCpus(*prefer, job))) return *prefer;
  if (!rules.AllowsType(job, a)) return std::nullopt;
  const double delta = cap.BusyDeltaW(a);
  if (auto p = PlaceOnOneNode(rules, cap, job, a, delta)) return p;
  if (w <= 1 || (!allow_spread && w <= cap.cluster().MaxPerNode(a))) return std::nullopt;
  Spread sp = GroupByRack(rules, cap, job, a, delta);
  if (auto p = PlaceInOneRack(sp)) return p;
  return PlaceInOneSite(sp);
}

}  // namespace

std::optional<Placement> FindPlacement(const PlacementRules& rules, const Capacity& cap,
                                       const JobSpec& job, AccelId a, const Placement* prefer,
                                       bool allow_spread) {
  auto p = Find(rules, cap, job, a, prefer, allow_spread);
  if (p) *p = WithHostCpus(std::move(*p), job);
  return p;
}

std::optional<Placement> FindPlacement(const Capacity& cap, const JobSpec& job, AccelId a,
                                       const Placement* prefer, bool allow_spread) {
  return FindPlacement(PlacementRules(), cap, job, a, prefer, allow_spread);
}

}  // namespace cnet
