// Event-driven, non-preemptive policies: they start queued jobs when capacity frees up.
//   fifo         submit order; the head waits until it fits (no job overtakes it); the type is
//                drawn at random among those with room, blind to speed (heterogeneity-agnostic).
//   fifo-hetero  submit order; the head goes to the fastest type with room now.
//   backfill     EASY backfill as Slurm's sched/backfill: the head job gets a reservation at the
//                earliest time enough accelerators free up; later jobs may start now if they do not
//                delay it (finish before the reservation, or use other accelerators). Runtime
//                estimates are the model's (steps / throughput).
//   cost-hetero  earliest deadline first; each job goes to the type with the lowest cost to finish
//                (price x workers x runtime) among those that meet its deadline, else the fastest.
#pragma once

#include <memory>

#include "sched/policy.h"

namespace cnet {

std::unique_ptr<Policy> MakeFifoPolicy(bool hetero);
std::unique_ptr<Policy> MakeBackfillPolicy();
std::unique_ptr<Policy> MakeCostHeteroPolicy();

}  // namespace cnet
