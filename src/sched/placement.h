// Finding nodes for a gang. Policy: one node if any fits (best fit: the node left with the fewest
// free packages); else inside one rack (the rack with the smallest sufficient usable total, its
// fullest-free nodes first, so the gang uses few nodes); else inside one site, largest racks first.
// A gang never spans sites; each node gets a multiple of job.unit packages (whole workers).
// Honours the job's allowed sites and every rack's power headroom.
// Pure function.
#pragma once

#include <optional>

#include "model/job.h"
#include "sched/capacity.h"

namespace cnet {

// `prefer` (may be null): returned as is when it is of type a, has the job's size and still fits,
// so a running job keeps its nodes. With allow_spread false, only single-node placements are
// returned for gangs that fit on one node of type a (larger gangs must spread regardless).
std::optional<Placement> FindPlacement(const Capacity& cap, const JobSpec& job, AccelId a,
                                       const Placement* prefer = nullptr, bool allow_spread = true);

}  // namespace cnet
