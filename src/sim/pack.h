// The GPU-sharing experiment: pods (fractions of one GPU, or whole GPUs on one node) arrive one by
// one and stay, as in FGD's evaluation (Weng et al., ATC'23), until the demand that has arrived
// reaches `max_load` of the cluster's GPUs. A pod no node can hold fails and its GPUs stay
// unallocated. At each load point the run records the unallocated and the fragmented fraction of
// the cluster's GPUs. A run is a pure function of its inputs and seed. Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/rng.h"
#include "sched/placement/gpu_share.h"

namespace cnet {

struct PodTrace {
  std::string source;
  std::vector<GpuDemand> pods;  // in arrival order
};

// CSV: job_id,accelerators_per_worker[,workers][,cpus_per_worker] — one pod per row (workers > 1:
// that many pods of the same demand in a row). accelerators_per_worker may be a fraction (0.25)
// or whole GPUs; cpus_per_worker: cores on the same node (default 0).
Result<PodTrace> ReadPodTrace(const std::string& path);

struct PackPoint {
  double load = 0;         // the load point (demand arrived / cluster GPUs) ...
  double arrived = 0;      // ... and the demand that had arrived when it was taken (>= load)
  double unallocated = 0;  // free GPUs / cluster GPUs
  double fragmented = 0;   // expected fragmentation against the mix / cluster GPUs
  size_t pods = 0, failed = 0;
};

struct PackOptions {
  DemandMix mix;            // pods are drawn from it (unless a trace is given) and FGD measures against it
  const PodTrace* trace = nullptr;  // pods in this order (cycled) instead of drawn
  ShareScorer scorer = ShareScorer::kBestFit;
  std::vector<double> loads = {0.5, 0.6, 0.7, 0.8, 0.9, 1.0};  // increasing, in (0, 1.5]
  uint64_t seed = 0;
};

Result<std::vector<PackPoint>> RunPacking(const Cluster& cluster, const PackOptions& opts);

// The mix of a trace (each distinct demand weighted by its count), for FGD to measure against.
DemandMix MixOf(const PodTrace& t);

}  // namespace cnet
