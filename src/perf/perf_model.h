// Throughput of a job type on an accelerator type: measured where the matrix has the figure,
// otherwise predicted from the catalogue (see docs/ARCHITECTURE.md, "Performance model"):
//  - single worker on an unmeasured type: the job type's reference (its measured type with the
//    highest peak_tflops) scaled by
//    (compute ratio)^alpha * (memory-bandwidth ratio)^(1-alpha), alpha fitted per job type from
//    its measurements (its arithmetic intensity, in effect);
//  - gangs, from the same type's own measurements first: T(n) = n * T1 / (1 + c(n) * (n-1)/n),
//    the ring all-reduce law ((n-1)/n: the share of the gradients each worker sends), with the
//    communication/compute ratio c fitted at each measured gang size of this type and
//    interpolated linearly in log n between them (held at the nearest one outside them); spread
//    gangs use the type's spread measurements, else its on-node ones scaled by link/network
//    bandwidth;
//  - gangs on a type with no gang measurement: N * T1 / (1 + f * bw_ref/bw * T1/T1_ref), f the
//    communication/compute time ratio measured on the reference type for the nearest gang size
//    (on one node or spread), bw the link the gang crosses (intra-node link or network);
//  - multi-die packages (Ascend 910C) are a gang of dies_per_package workers joined by the
//    die-to-die link.
//  - a measured 0 (cannot run, e.g. out of memory) is never overridden by a prediction.
// Immutable after construction; thread-safe to read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/accelerator.h"
#include "perf/throughput_matrix.h"

namespace cnet {

struct Estimate {
  double steps_per_s = 0;
  bool predicted = false;
};

class PerfModel {
 public:
  PerfModel(const Catalogue& cat, const ThroughputMatrix& m);

  const Catalogue& catalogue() const { return cat_; }
  const ThroughputMatrix& matrix() const { return m_; }

  // Throughput of a gang of `workers` packages of type a spread over `nodes` nodes (>= 1).
  // For a CPU type: only from the matrix's own rows for that type (measured, or the same type's
  // other sizes by the scaling law), zero where it has none.
  Estimate Throughput(JobTypeId t, AccelId a, int workers, int nodes = 1) const;
  // The job type's fitted compute-boundness in [0, 1].
  double Alpha(JobTypeId t) const { return alpha_[t.value()]; }
  AccelId Reference(JobTypeId t) const { return ref_[t.value()]; }

 private:
  double SingleWorker(JobTypeId t, AccelId a, bool* predicted) const;
  Estimate CpuThroughput(JobTypeId t, AccelId a, int workers, bool spread) const;
  double SingleDie(JobTypeId t, AccelId a) const;
  // Communication/compute time ratio of the reference type for a gang of n (spread or not).
  double CommRatio(JobTypeId t, int n, bool spread) const;
  // c(n) of the scaling law above from type a's own gang measurements (spread or not), relative
  // to its single-worker throughput t1; nullopt when it has none.
  std::optional<double> OwnCommRatio(JobTypeId t, AccelId a, int n, bool spread, double t1) const;

  const Catalogue& cat_;
  const ThroughputMatrix& m_;
  std::vector<AccelId> ref_;
  std::vector<double> alpha_;
};

}  // namespace cnet
