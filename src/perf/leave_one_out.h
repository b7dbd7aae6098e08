// Leave-one-out evaluation of the performance model on a measured matrix: each positive
// measurement in turn is removed, the model is rebuilt from the rest, and its prediction for the
// removed point is compared with the measurement. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "model/accelerator.h"
#include "perf/throughput_matrix.h"

namespace cnet {

struct LooPoint {
  std::string job_type;
  AccelId accel;
  int workers = 0;
  bool spread = false;
  double measured = 0;   // steps/s
  double predicted = 0;  // steps/s, from the matrix without this point
};

struct LooResult {
  std::vector<LooPoint> points;
  // Measurements that cannot be left out: a job type's only single-worker figure (the model
  // needs one).
  size_t skipped = 0;
};

LooResult LeaveOneOut(const Catalogue& cat, const ThroughputMatrix& m);

// A text table per accelerator type and gang class (1 worker, gangs on one node, spread gangs):
// points, median predicted/measured, median and 90th percentile of |predicted/measured - 1|.
std::string FormatLooTable(const Catalogue& cat, const LooResult& r);

// The q-quantile (0..1) of v by nearest rank; 0 for an empty v.
double Quantile(std::vector<double> v, double q);

}  // namespace cnet
