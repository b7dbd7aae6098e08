#include "sched/capacity.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace cnet {

int PowerSlots(double headroom_w, double delta_w) {
  constexpr double kMax = 1 << 30;
  if (delta_w <= 0) return static_cast<int>(kMax);
  if (headroom_w <= 0) return 0;
  return static_cast<int>(std::min(kMax, std::floor(headroom_w / delta_w + 1e-9)));
}

Capacity::Capacity(const Cluster& cluster, const Catalogue& cat) : cluster_(&cluster) {
  free_.resize(cluster.nodes().size());
  free_by_type_.assign(cat.size(), 0);
  rack_draw_w_.assign(cluster.racks().size(), 0);
  withheld_.assign(cluster.nodes().size(), 0);
  offline_.assign(cluster.nodes().size(), 0);
  twin_.assign(cluster.nodes().size(), -1);
  rack_cap_w_.resize(cluster.racks().size());
  rack_budget_w_.assign(cluster.racks().size(), HUGE_VAL);
  busy_delta_w_.resize(cat.size());
  for (size_t a = 0; a < cat.size(); ++a) {
    const auto& s = cat.Get(AccelId(static_cast<int32_t>(a)));
    busy_delta_w_[a] = s.board_power_w - s.idle_power_w;
  }
  for (const Rack& r : cluster.racks()) rack_cap_w_[r.id.value()] = r.power_cap_kw * 1000;
  for (const Node& n : cluster.nodes()) {
    free_[n.id.value()] = n.accel_count;
    if (n.accel.valid()) {
      free_by_type_[n.accel.value()] += n.accel_count;
      rack_draw_w_[n.rack.value()] += n.accel_count * cat.Get(n.accel).idle_power_w;
    }
  }
}

double Capacity::RackHeadroomW(RackId r) const {
  return std::min(rack_cap_w_[r.value()], rack_budget_w_[r.value()]) - rack_draw_w_[r.value()];
}

void Capacity::SetCpuTwin(NodeId node, NodeId twin) {
  assert(cluster_->node(twin).accel_count > 0);
  twin_[node.value()] = twin.value();
}

int Capacity::TwinCpus(const Placement& p, const Slot& s) const {
  if (p.cpus_per_unit <= 0 || twin_[s.node.value()] < 0) return 0;
  return s.count / std::max(1, p.unit) * p.cpus_per_unit;
}

// Takes (sign -1) or gives back (+1) slot s's CPUs on its node's twin; an offline twin keeps
// what comes back withheld, as for packages.
void Capacity::MoveTwinCpus(const Placement& p, const Slot& s, int sign) {
  const int c = TwinCpus(p, s);
  if (c == 0) return;
  const int t = twin_[s.node.value()];
  const AccelId cpu = cluster_->node(NodeId(t)).accel;
  if (sign > 0 && offline_[t]) {
    withheld_[t] += c;
    return;
  }
  free_[t] += sign * c;
  free_by_type_[cpu.value()] += sign * c;
}

int Capacity::FreeFor(NodeId n, int unit, int cpus_per_unit) const {
  const int f = free_[n.value()];
  const int t = twin_[n.value()];
  if (cpus_per_unit <= 0 || t < 0) return f;
  unit = std::max(1, unit);
  return std::min(f, free_[t] / cpus_per_unit * unit);
}

bool Capacity::CanTake(const Placement& p) const {
  if (p.empty()) return false;
  double delta = busy_delta_w_[p.accel.value()];
  // Racks may appear in several slots: sum per rack (slots are few; quadratic is fine).
  for (size_t i = 0; i < p.slots.size(); ++i) {
    const Node& n = cluster_->node(p.slots[i].node);
    if (n.accel != p.accel || p.slots[i].count <= 0 || free_[n.id.value()] < p.slots[i].count)
      return false;
    const int cpus = TwinCpus(p, p.slots[i]);
    if (cpus > 0 && free_[twin_[n.id.value()]] < cpus) return false;
    int in_rack = 0;
    for (const auto& s : p.slots)
      if (cluster_->node(s.node).rack == n.rack) in_rack += s.count;
    if (in_rack * delta > RackHeadroomW(n.rack) + 1e-6) return false;
  }
  return true;
}

void Capacity::Take(const Placement& p) {
  assert(CanTake(p));
  double delta = busy_delta_w_[p.accel.value()];
  for (const auto& s : p.slots) {
    const Node& n = cluster_->node(s.node);
    free_[s.node.value()] -= s.count;
    free_by_type_[p.accel.value()] -= s.count;
    rack_draw_w_[n.rack.value()] += s.count * delta;
    MoveTwinCpus(p, s, -1);
  }
}

void Capacity::Give(const Placement& p) {
  double delta = busy_delta_w_[p.accel.value()];
  for (const auto& s : p.slots) {
    const Node& n = cluster_->node(s.node);
    if (offline_[s.node.value()]) {
      withheld_[s.node.value()] += s.count;
    } else {
      free_[s.node.value()] += s.count;
      free_by_type_[p.accel.value()] += s.count;
    }
    rack_draw_w_[n.rack.value()] -= s.count * delta;
    assert(free_[s.node.value()] + withheld_[s.node.value()] <= n.accel_count);
    MoveTwinCpus(p, s, +1);
  }
}

void Capacity::SetUsable(NodeId id, bool usable) {
  int i = id.value();
  const Node& n = cluster_->node(id);
  if (!usable && !offline_[i]) {
    offline_[i] = 1;
    withheld_[i] = free_[i];
    if (n.accel.valid()) free_by_type_[n.accel.value()] -= free_[i];
    free_[i] = 0;
  } else if (usable && offline_[i]) {
    offline_[i] = 0;
    free_[i] += withheld_[i];
    if (n.accel.valid()) free_by_type_[n.accel.value()] += withheld_[i];
    withheld_[i] = 0;
  }
}

}  // namespace cnet
