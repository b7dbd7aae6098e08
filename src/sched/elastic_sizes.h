// Gang sizes of elastic jobs (JobSpec::min_workers/max_workers). Pure functions.
#pragma once

#include <vector>

#include "common/status.h"
#include "model/job.h"

namespace cnet {

// At most this many sizes are considered per elastic job (a policy's work per round grows with it).
inline constexpr size_t kMaxElasticSizes = 12;

// Ok when an elastic spec is consistent: 1 <= min_workers <= workers <= max_workers, both bounds
// multiples of `unit`, and a job type (the throughput model gives each size its rate). The error
// names the field.
Status CheckElastic(const JobSpec& spec);

// The sizes a policy may choose, ascending: every multiple of `unit` in [min, max] when there are
// at most kMaxElasticSizes of them; else min, max, `workers` and the powers of two times `unit`
// in between, thinned to kMaxElasticSizes (geometrically spaced). Always holds `workers`.
std::vector<int> ElasticSizes(const JobSpec& spec);

}  // namespace cnet
