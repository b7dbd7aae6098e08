// Where a gang runs: one accelerator type, a number of packages on each of one or more nodes.
#pragma once

#include <vector>

#include "common/ids.h"

namespace cnet {

struct Slot {
  NodeId node;
  int count = 0;
  bool operator==(const Slot&) const = default;
};

struct Placement {
  AccelId accel;
  std::vector<Slot> slots;
  // Host CPUs the gang needs besides its packages: cpus_per_unit for every `unit` packages on a
  // node (slots are multiples of unit). Taken from a node's CPU twin where it has one
  // (Capacity::SetCpuTwin); 0: none asked.
  int unit = 1;
  int cpus_per_unit = 0;

  bool empty() const { return slots.empty(); }
  int Workers() const {
    int w = 0;
    for (const auto& s : slots) w += s.count;
    return w;
  }
  int Nodes() const { return static_cast<int>(slots.size()); }
  bool operator==(const Placement&) const = default;
};

}  // namespace cnet
