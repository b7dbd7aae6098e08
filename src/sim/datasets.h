// Input datasets for a simulated workload (issue 12, "the simulator runs the same decision"): a
// generator, documented in docs/data.md ("In the simulator"), that gives every job one input
// dataset. `count` datasets, each of a size drawn log-uniformly in [min_gb, max_gb] (decimal GB)
// and one replica at a home site drawn uniformly among the cluster's sites that have
// accelerators; job j reads dataset (hash(j, seed) mod count). Deterministic in `seed`. The
// simulator then charges each start its stage-in (SchedulerOptions::stage_in) and the placement
// scorers see it when the run is data-aware (SimOptions::data_aware).
#pragma once

#include <cstdint>

#include "common/status.h"
#include "model/cluster.h"
#include "sim/trace.h"

namespace cnet {

struct DataGen {
  int count = 0;  // 0: jobs read nothing
  double min_gb = 10, max_gb = 10000;
  uint64_t seed = 1;
};

// Parses "MIN:MAX" (GB, 0 < MIN <= MAX) into gen's bounds; the error names `flag`.
Status ParseDatasetSizes(const std::string& text, const std::string& flag, DataGen* gen);
// Gives each job of `wl` its input (JobSpec::inputs). kInvalidArgument when the cluster has no
// site with accelerators or the bounds are bad.
Status AssignDatasets(const DataGen& gen, const Cluster& cluster, Workload* wl);

}  // namespace cnet
