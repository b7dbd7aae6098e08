#include "sched/policy/maxmin_lp.h"

#include <coin/ClpSimplex.hpp>
#include <coin/CoinPackedMatrix.hpp>

#include <algorithm>

namespace cnet {

MaxMinSolution SolveMaxMin(const MaxMinProblem& p) {
  MaxMinSolution out;
  out.x.assign(static_cast<size_t>(p.jobs) * p.types, 0.0);
  if (p.jobs == 0) {
    out.ok = true;
    return out;
  }
  // Columns: one per allowed (m, j), then z. Rows: jobs throughput rows, jobs sum rows, type rows.
  const int rows = 2 * p.jobs + p.types;
  std::vector<int> col_of;  // column -> m*types+j
  col_of.reserve(static_cast<size_t>(p.jobs) * p.types);
  std::vector<CoinBigIndex> starts;
  std::vector<int> idx;
  std::vector<double> val;
  for (int m = 0; m < p.jobs; ++m) {
    for (int j = 0; j < p.types; ++j) {
      double c = p.coef[static_cast<size_t>(m) * p.types + j];
      if (c <= 0) continue;
      starts.push_back(static_cast<CoinBigIndex>(idx.size()));
      idx.push_back(m);
      val.push_back(c);
      idx.push_back(p.jobs + m);
      val.push_back(1.0);
      idx.push_back(2 * p.jobs + j);
      val.push_back(p.workers[m]);
      col_of.push_back(m * p.types + j);
    }
  }
  const int xcols = static_cast<int>(col_of.size());
  // z column: -1 in every throughput row.
  starts.push_back(static_cast<CoinBigIndex>(idx.size()));
  for (int m = 0; m < p.jobs; ++m) {
    idx.push_back(m);
    val.push_back(-1.0);
  }
  starts.push_back(static_cast<CoinBigIndex>(idx.size()));
  const int cols = xcols + 1;
  std::vector<int> lengths(cols);
  for (int c = 0; c < cols; ++c) lengths[c] = static_cast<int>(starts[c + 1] - starts[c]);
  CoinPackedMatrix matrix(true, rows, cols, static_cast<CoinBigIndex>(idx.size()), val.data(),
                          idx.data(), starts.data(), lengths.data());

  std::vector<double> col_lo(cols, 0.0), col_hi(cols, 1.0), obj(cols, 0.0);
  col_hi[xcols] = COIN_DBL_MAX;
  obj[xcols] = -1.0;  // minimise -z
  std::vector<double> row_lo(rows), row_hi(rows);
  for (int m = 0; m < p.jobs; ++m) {
    row_lo[m] = 0.0;
    row_hi[m] = COIN_DBL_MAX;
    row_lo[p.jobs + m] = -COIN_DBL_MAX;
    row_hi[p.jobs + m] = 1.0;
  }
  for (int j = 0; j < p.types; ++j) {
    row_lo[2 * p.jobs + j] = -COIN_DBL_MAX;
    row_hi[2 * p.jobs + j] = std::max(0.0, p.capacity[j]);
  }
  ClpSimplex model;
  model.setLogLevel(0);
  model.loadProblem(matrix, col_lo.data(), col_hi.data(), obj.data(), row_lo.data(), row_hi.data());
  model.setOptimizationDirection(1.0);
  model.dual();
  if (model.status() != 0) {
    out.error = "max-min LP phase 1: CLP status " + std::to_string(model.status());
    return out;
  }
  double z = model.primalColumnSolution()[xcols];
  out.z = z;
  // Phase 2: keep z (less a hair for numerical slack), maximise total normalised throughput.
  model.setColumnLower(xcols, z * (1 - 1e-6));
  for (int c = 0; c < xcols; ++c)
    model.setObjectiveCoefficient(c, -p.coef[col_of[c]]);
  model.setObjectiveCoefficient(xcols, 0.0);
  model.primal();
  if (model.status() != 0) {
    out.error = "max-min LP phase 2: CLP status " + std::to_string(model.status());
    return out;
  }
  const double* sol = model.primalColumnSolution();
  for (int c = 0; c < xcols; ++c) out.x[col_of[c]] = std::clamp(sol[c], 0.0, 1.0);
  out.ok = true;
  return out;
}

}  // namespace cnet
