#include "sched/placement.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace cnet {

namespace {

// Packages of a node usable now: free, and within its rack's power headroom.
int Usable(const Capacity& cap, const Node& n, double delta) {
  int f = cap.Free(n.id);
  if (delta <= 0) return f;
  return std::min(f, PowerSlots(cap.RackHeadroomW(n.rack), delta));
}

}  // namespace

std::optional<Placement> FindPlacement(const Capacity& cap, const JobSpec& job, AccelId a,
                                       const Placement* prefer, bool allow_spread) {
  const int w = job.workers;
  const int unit = std::max(1, job.unit);
  if (cap.FreeOfType(a) < w) return std::nullopt;
  if (prefer && prefer->accel == a && prefer->Workers() == w && cap.CanTake(*prefer)) return *prefer;
  const Cluster& cl = cap.cluster();
  const double delta = cap.BusyDeltaW(a);
  const auto& nodes = cl.NodesWith(a);

  // 1. One node, best fit.
  const Node* best = nullptr;
  int best_free = 1 << 30;
  for (NodeId id : nodes) {
    const Node& n = cl.node(id);
    if (!job.AllowsSite(n.site)) continue;
    int u = Usable(cap, n, delta);
    if (u >= w && cap.Free(id) < best_free) {
      best = &n;
      best_free = cap.Free(id);
      if (best_free == w) break;
    }
  }
  if (best) return Placement{a, {Slot{best->id, w}}};
  if (w <= 1 || (!allow_spread && w <= cl.MaxPerNode(a))) return std::nullopt;

  // 2./3. Several nodes: within one rack, else within one site. Power headroom is per rack, so
  // within a rack the usable total is min(sum of free, headroom / delta).
  struct Group {
    std::vector<std::pair<int, NodeId>> free;  // (free, node)
    int total = 0;
  };
  std::map<int, Group> racks;
  for (NodeId id : nodes) {
    const Node& n = cl.node(id);
    int f = cap.Free(id) / unit * unit;
    if (!job.AllowsSite(n.site) || f == 0) continue;
    Group& g = racks[n.rack.value()];
    g.free.emplace_back(f, id);
    g.total += f;
  }
  auto rack_usable = [&](int rack, const Group& g) {
    return std::min(g.total, PowerSlots(cap.RackHeadroomW(RackId(rack)), delta)) / unit * unit;
  };
  // Fill from the largest free nodes first, so the gang uses as few nodes as possible.
  auto take = [&](Group& g, int want, Placement& p) {
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
  };
  int best_rack = -1, best_total = 1 << 30;
  for (auto& [r, g] : racks) {
    int u = rack_usable(r, g);
    if (u >= w && u < best_total) {
      best_rack = r;
      best_total = u;
    }
  }
  if (best_rack >= 0) {
    Placement p{a, {}};
    take(racks[best_rack], w, p);
    return p;
  }
  // Across racks of one site: pick the site with the smallest sufficient total.
  std::map<int, std::vector<int>> site_racks;
  std::map<int, int> site_total;
  for (auto& [r, g] : racks) {
    int s = cl.rack(RackId(r)).site.value();
    site_racks[s].push_back(r);
    site_total[s] += rack_usable(r, g);
  }
  int best_site = -1;
  for (auto& [s, t] : site_total)
    if (t >= w && (best_site < 0 || t < site_total[best_site])) best_site = s;
  if (best_site < 0) return std::nullopt;
  auto& rs = site_racks[best_site];
  std::sort(rs.begin(), rs.end(), [&](int x, int y) {
    int ux = rack_usable(x, racks[x]), uy = rack_usable(y, racks[y]);
    return ux != uy ? ux > uy : x < y;
  });
  Placement p{a, {}};
  int want = w;
  for (int r : rs) {
    if (want == 0) break;
    int k = std::min(want, rack_usable(r, racks[r]));
    if (k == 0) continue;
    int left = take(racks[r], k, p);
    want -= k - left;
  }
  if (want > 0) return std::nullopt;
  return p;
}

}  // namespace cnet
