// How amounts of a catalogue type read in errors and reasons. A CPU-only job's "packages" are its
// CPUs (service/admission.cc), so they are worded as CPUs, never as accelerators of a CPU type.
#pragma once

#include <string>
#include <vector>

#include "model/accelerator.h"

namespace cnet {

inline bool IsCpuType(const Catalogue& cat, AccelId a) { return a.valid() && cat.Get(a).kind == AccelKind::kCpu; }

// True when every type in `types` is a CPU type (and there is one).
inline bool AllCpu(const Catalogue& cat, const std::vector<AccelId>& types) {
  for (AccelId a : types)
    if (!IsCpuType(cat, a)) return false;
  return !types.empty();
}

// "2 x H100-SXM", or "16 CPUs" (a CPU type).
inline std::string CountOf(const Catalogue& cat, AccelId a, int n) {
  if (IsCpuType(cat, a)) return std::to_string(n) + (n == 1 ? " CPU" : " CPUs");
  return std::to_string(n) + " x " + (a.valid() ? cat.Get(a).name : std::string("?"));
}

}  // namespace cnet
