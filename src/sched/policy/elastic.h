// elastic-hetero: each round chooses every job's accelerator type *and* gang size (goodput-aware,
// in the spirit of Pollux, OSDI'21, and Sia, SOSP'23), for jobs that declare
// JobSpec::min_workers/max_workers; rigid jobs have one size and are placed as before.
//
// A round, from scratch over every active job (running and waiting):
//   1. Who runs: in least-attained-service order (accelerator-seconds received / priority;
//      Tiresias' 2D-LAS), each job that still finds room gets its smallest size. When every
//      waiting job fits beside the running ones, running jobs keep their gangs instead (no
//      preemption without contention) and may only move, once, to a type with room where they
//      run at least 1.25x faster.
//   2. Types, by regret: among the jobs chosen, the one that loses most by not getting its best
//      type with room picks first (a greedy assignment in the spirit of Gavel's LP: jobs that gain
//      most from a fast type get it).
//   3. Sizes: what is left goes, step by step, to the job whose log normalised throughput
//      (steps/s over its best rate at its declared size) gains most per added accelerator
//      (proportional fairness). A step may jump sizes; beyond the declared size a step must add
//      at least kMinStepEfficiency of the gang's per-accelerator throughput.
//   A change of type or size of a running job is a checkpoint/restart: it pays the job's restore
//   cost, so a change's value is discounted by restore_s / horizon (the job's remaining time, at
//   most kHorizonRounds rounds); a job keeps its gang unless the change pays.
// Placements: kept gangs first, then changes of running jobs (a change that finds no nodes keeps
// the old gang), then new starts, largest first, one node where one node holds the gang.
// Deterministic (no randomness used); keeps no state between rounds (all it needs is in the
// Snapshot). Not thread-safe (one instance per scheduler).
#pragma once

#include <memory>

#include "sched/policy.h"

namespace cnet {

std::unique_ptr<Policy> MakeElasticHeteroPolicy();

}  // namespace cnet
