// Gavel's simulated workloads (OSDI'20 section 7; scheduler/utils.py in its artifact):
// Poisson arrivals at `rate_per_hour`, job type uniform, duration on a V100 of
// 60 * 10^U(1.5, 3) s w.p. 0.8 else 60 * 10^U(3, 4) s, total steps = duration x the type's
// throughput on the reference with that many workers. gavel-multi draws workers
// 1/2/4/8 w.p. 0.70/0.10/0.15/0.05 (types measured with that many workers only).
// rate_per_hour <= 0 puts every job at time 0 (the static makespan workload).
#pragma once

#include <string>

#include "sim/trace.h"

namespace cnet {

enum class GavelWorkload { kSingle, kMulti };

Result<Workload> GenerateGavel(GavelWorkload kind, double rate_per_hour, size_t jobs,
                               const PerfModel& perf, AccelId reference, Rng& rng);

}  // namespace cnet
