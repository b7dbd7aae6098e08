// Finding nodes for a gang of one accelerator type, in three strategies tried in order:
//   1. one node: the best node by the rules' node scorer (default best fit: the node left with
//      the fewest free packages);
//   2. one rack: the rack with the smallest sufficient usable total, its largest free nodes first
//      (so the gang uses few nodes);
//   3. one site: the site with the smallest sufficient total, its largest racks first.
// A gang never spans sites; each node gets a multiple of job.unit packages (whole workers). Only
// nodes every filter of the rules allows are used; every rack's power headroom is honoured.
// Pure functions.
#pragma once

#include <optional>

#include "model/job.h"
#include "sched/capacity.h"
#include "sched/placement/rules.h"

namespace cnet {

// `prefer` (may be null): returned as is when it is of type a, has the job's size, still fits and
// passes the filters, so a running job keeps its nodes. With allow_spread false, only single-node
// placements are returned for gangs that fit on one node of type a (larger gangs must spread
// regardless).
std::optional<Placement> FindPlacement(const PlacementRules& rules, const Capacity& cap,
                                       const JobSpec& job, AccelId a,
                                       const Placement* prefer = nullptr, bool allow_spread = true);
// `p` with the job's host CPUs (Placement::unit, cpus_per_unit: JobSpec::unit, cpus_per_worker)
// filled in when the job asks for any. FindPlacement's placements have them.
Placement WithHostCpus(Placement p, const JobSpec& job);
// The same with the default rules (tools and tests; builds the rules on each call).
std::optional<Placement> FindPlacement(const Capacity& cap, const JobSpec& job, AccelId a,
                                       const Placement* prefer = nullptr, bool allow_spread = true);

}  // namespace cnet
