// Backfill's reservation for the job at the head of the queue, and its wording. Only accelerators
// on usable nodes the job may use count (free ones, and those running jobs there will release):
// a job restricted to an unreachable site gets no reservation, never one computed from nodes it
// cannot use or from a job that cannot end there. Times are the model's estimates (each running
// job's steps / rate, i.e. its estimated_duration_s or else its time limit), never in the past.
// Pure functions of the snapshot; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "sched/capacity.h"
#include "sched/policy.h"

namespace cnet {

struct Reservation {
  AccelId type;                  // invalid: no usable node it may use can ever hold it now
  SiteId site;                   // where (a gang runs on one site)
  Seconds at = 0;                // when enough is expected free; >= now
  int extra = 0;                 // packages of `type` on `site` free at `at` beyond the job's
  bool overdue = false;          // every job it waits for is past its estimated end (at == now)
  std::vector<JobId> waits_for;  // the running jobs whose end it waits for (end order)
};

// The earliest reservation over the job's types (by expected completion). `cap` is the capacity
// as the cycle has left it.
Reservation Reserve(const Snapshot& s, const Capacity& cap, const JobRecord& j);

// "reserved 2 x H100-SXM in ~40 s (when job 7 ends, by its estimate)", or, without a type,
// "no usable accelerator it may use can hold it now (nodes down, drained or their site
// unreachable)". No times before now, no placeholder names.
std::string DescribeReservation(const Snapshot& s, const JobRecord& j, const Reservation& r);

// The reservation's expected start, or -1 when it gives none: no type, nothing to wait for (free
// now but not in one piece, so no end time says when), or overdue (the estimates have run out).
Seconds ReservedStart(const Reservation& r);

}  // namespace cnet
