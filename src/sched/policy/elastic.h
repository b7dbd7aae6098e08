// elastic-hetero: each round chooses every job's accelerator type *and* gang size (goodput-aware,
// in the spirit of Pollux, OSDI'21, and Sia, SOSP'23), for jobs that declare
// JobSpec::min_workers/max_workers; rigid jobs have one size and are placed as before.
//
// A round, from scratch over every active job (running and waiting):
//   1. Fairness floor: in least-attained-service order (accelerator-seconds received / priority;
//      Tiresias' 2D-LAS), each job gets its smallest size on the type where it runs relatively
//      fastest and that still has room. When every waiting job fits in what running jobs leave
//      free, running jobs keep their type and size here instead (no preemption without
//      contention).
//   2. Goodput: what is left goes, one size step at a time, to the job whose normalised
//      throughput (steps/s over its best rate at its declared size) gains most per added
//      accelerator, while the step's own scaling efficiency is at least kMinStepEfficiency.
//   3. A change of type or size of a running job is a checkpoint/restart: it pays the job's restore
//      cost, so a change's value is discounted by restore_s / horizon (the job's remaining time,
//      at most kHorizonRounds rounds); a job keeps its gang unless the change pays.
// Placements: kept gangs first, then changes of running jobs (a change that finds no nodes keeps
// the old gang), then new starts, largest first, one node where one node holds the gang.
// Deterministic (no randomness used). Stateless between rounds apart from nothing: all it needs is
// in the Snapshot (attained service, progress). Not thread-safe (one instance per scheduler).
#pragma once

#include <memory>

#include "sched/policy.h"

namespace cnet {

std::unique_ptr<Policy> MakeElasticHeteroPolicy();

}  // namespace cnet
