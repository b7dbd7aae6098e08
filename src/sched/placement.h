// Finding nodes for a gang. Policy: one node if any fits (best fit: the node left with the fewest
// free packages), else the fewest nodes inside one rack, else inside one site; a gang never spans
// sites. Honours the job's allowed sites and every rack's power headroom. Pure function.
#pragma once

#include <optional>

#include "model/job.h"
#include "sched/capacity.h"

namespace cnet {

// `prefer` (may be null): returned as is when it is of type a, has the job's size and still fits,
// so a running job keeps its nodes.
std::optional<Placement> FindPlacement(const Capacity& cap, const JobSpec& job, AccelId a,
                                       const Placement* prefer = nullptr);

}  // namespace cnet
