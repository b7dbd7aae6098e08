// The max-min allocation LP shared by the heterogeneity-aware policies (Gavel's formulation):
//   maximise z
//   s.t.  sum_j coef[m][j] * x[m][j] >= z      for every job m    (normalised effective throughput)
//         sum_j x[m][j]               <= 1      for every job m    (a job runs on one type at a time)
//         sum_m workers[m] * x[m][j]  <= cap[j] for every type j
//         x >= 0, x[m][j] = 0 where coef[m][j] == 0
// then, with z held at its optimum, maximises sum coef[m][j] * x[m][j] (use what is left).
// x[m][j] is the fraction of time job m should spend on type j. Solved with COIN-OR CLP.
// With objective kMaxSum only the second stage is solved, with no floor on z: maximise
//   sum coef[m][j] * x[m][j] under the same time and capacity rows (Gavel's max_sum_throughput).
// The solver never aborts on valid input: non-finite, zero and negligible coefficients are
// dropped, far-from-1 problems are scaled, and a solver failure comes back as ok=false with the
// reason. Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace cnet {

enum class LpObjective { kMaxMin, kMaxSum };

struct MaxMinProblem {
  LpObjective objective = LpObjective::kMaxMin;
  int jobs = 0, types = 0;
  std::vector<double> coef;      // jobs * types, row-major; 0 = not allowed
  std::vector<double> workers;   // per job
  std::vector<double> capacity;  // per type
};

struct MaxMinSolution {
  bool ok = false;
  std::string error;
  double z = 0;
  std::vector<double> x;  // jobs * types
};

MaxMinSolution SolveMaxMin(const MaxMinProblem& p);

}  // namespace cnet
