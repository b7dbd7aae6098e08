// The elastic variant of a workload, for comparing elastic scheduling with rigid on one trace:
// `cnet simulate --elastic MIN:FACTOR`.
#pragma once

#include <string>

#include "common/status.h"
#include "sim/trace.h"

namespace cnet {

struct ElasticRange {
  int min_workers = 1;     // in workers (times the job's packages per worker)
  double max_factor = 2;   // max_workers = this x the job's declared workers
};

// "MIN:FACTOR", e.g. "1:2" (min 1 worker, max twice the trace's size) or "1:2x".
Result<ElasticRange> ParseElasticRange(const std::string& text);

// Gives every rigid job of `w` the range: min_workers = min(MIN x unit, workers), max_workers =
// FACTOR x workers rounded down to whole workers (never below workers). Jobs that already declare
// a range keep theirs; fractional jobs (Workload::share_milli) stay one rigid worker.
void MakeElastic(Workload* w, const ElasticRange& range);

}  // namespace cnet
