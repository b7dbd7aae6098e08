// Free accelerator packages per node and power headroom per rack. Rack draw counts every
// accelerator at idle power plus (board - idle) for each busy one; a placement must keep every
// rack under its cap. An accelerator node whose CPUs are also a CPU-only node of the model (its
// CPU twin) shares them: a placement there takes its host CPUs (Placement::cpus_per_unit) from
// the twin, and does not fit when the twin has too few free, so accelerator and CPU jobs on that
// node never count the same CPUs twice. Value type: policies copy it as scratch while they
// decide. Not thread-safe.
#pragma once

#include <vector>

#include "model/cluster.h"
#include "common/units.h"
#include "sched/placement_types.h"

namespace cnet {

// How many more packages drawing `delta_w` each fit in `headroom_w` (clamped to [0, 1<<30]).
int PowerSlots(double headroom_w, double delta_w);

class Capacity {
 public:
  Capacity(const Cluster& cluster, const Catalogue& cat);

  int Free(NodeId n) const { return free_[n.value()]; }
  int FreeOfType(AccelId a) const { return free_by_type_[a.value()]; }
  double RackDrawW(RackId r) const { return rack_draw_w_[r.value()]; }
  double RackHeadroomW(RackId r) const;
  double RackCapW(RackId r) const { return rack_cap_w_[r.value()]; }
  // A temporary limit below the cap (a site power budget, watts; +inf = none): new placements keep
  // the rack's draw under min(cap, budget), running work keeps its packages even when the draw is
  // above it. What can ever run (Scheduler admission) still counts the cap only.
  void SetRackBudgetW(RackId r, double w) { rack_budget_w_[r.value()] = w; }
  double RackBudgetW(RackId r) const { return rack_budget_w_[r.value()]; }
  // Extra watts one busy package of type a adds to its rack.
  double BusyDeltaW(AccelId a) const { return busy_delta_w_[a.value()]; }

  // A node that is down, drained or unreachable offers nothing: its free packages (and those its
  // running jobs release later) are withheld until it is usable again.
  void SetUsable(NodeId n, bool usable);
  bool Usable(NodeId n) const { return !offline_[n.value()]; }

  // `twin` (a CPU-only node) models the CPUs of accelerator node `node`.
  void SetCpuTwin(NodeId node, NodeId twin);
  // Packages of node n usable by a gang needing cpus_per_unit host CPUs per `unit` packages:
  // Free(n), bounded by the CPUs its twin has free (if it has one).
  int FreeFor(NodeId n, int unit, int cpus_per_unit) const;

  bool CanTake(const Placement& p) const;
  void Take(const Placement& p);  // asserts CanTake
  void Give(const Placement& p);

  const Cluster& cluster() const { return *cluster_; }
  // The time this free state describes (the Scheduler sets it each cycle; copies keep it), for
  // node scorers whose answer depends on time (carbon intensity).
  Seconds at_s() const { return at_s_; }
  void SetTime(Seconds t) { at_s_ = t; }

 private:
  const Cluster* cluster_;
  std::vector<int> free_;
  std::vector<int> withheld_;     // packages of an offline node held back from free_
  std::vector<char> offline_;
  std::vector<int> free_by_type_;
  std::vector<double> rack_draw_w_;
  std::vector<double> rack_cap_w_;
  std::vector<double> rack_budget_w_;
  std::vector<double> busy_delta_w_;
  std::vector<int> twin_;         // node -> its CPU twin's index, -1: none
  Seconds at_s_ = 0;

  // CPUs slot s of p takes from its node's twin (0 without a twin).
  int TwinCpus(const Placement& p, const Slot& s) const;
  void MoveTwinCpus(const Placement& p, const Slot& s, int sign);
};

}  // namespace cnet
