#include "sched/policy/maxmin_lp.h"

#include <coin/ClpSimplex.hpp>
#include <coin/CoinPackedMatrix.hpp>

#include <algorithm>
#include <cmath>

namespace cnet {

MaxMinSolution SolveMaxMin(const MaxMinProblem& p) {
  MaxMinSolution out;
  out.x.assign(static_cast<size_t>(p.jobs) * p.types, 0.0);
  if (p.jobs == 0) {
    out.ok = true;
    return out;
  }
  std::vector<int> col_of;  // column -> m*types+j
  col_of.reserve(static_cast<size_t>(p.jobs) * p.types);
  std::vector<CoinBigIndex> starts;
  std::vector<int> idx;
  std::vector<double> val;
  // Coefficients negligible next to the job's best one (or not finite) are dropped: CLP asserts
  // on elements its scaling turns into zero.
  std::vector<double> coef(p.coef.size(), 0.0);
  for (int m = 0; m < p.jobs; ++m) {
    double best = 0;
    for (int j = 0; j < p.types; ++j) {
      double c = p.coef[static_cast<size_t>(m) * p.types + j];
      if (std::isfinite(c) && c > best) best = c;
    }
    for (int j = 0; j < p.types; ++j) {
      double c = p.coef[static_cast<size_t>(m) * p.types + j];
      if (std::isfinite(c) && c > 1e-9 * best && c > 1e-30 && p.capacity[j] > 0)
        coef[static_cast<size_t>(m) * p.types + j] = c;
    }
  }
  // Rows: a throughput row and a time row per job that can run somewhere (a job with no
  // column would pin z to 0), then a capacity row per type that carries a column (CLP dislikes
  // empty rows). Columns: one per allowed (m, j), then z.
  std::vector<int> job_row(p.jobs, -1);
  int used_jobs = 0;
  for (int m = 0; m < p.jobs; ++m) {
    bool any = false;
    for (int j = 0; j < p.types && !any; ++j) any = coef[static_cast<size_t>(m) * p.types + j] > 0;
    if (any) job_row[m] = used_jobs++;
  }
  std::vector<int> type_row(p.types, -1);
  int used_types = 0;
  for (int j = 0; j < p.types; ++j) {
    bool any = false;
    for (int m = 0; m < p.jobs && !any; ++m) any = coef[static_cast<size_t>(m) * p.types + j] > 0;
    if (any) type_row[j] = 2 * used_jobs + used_types++;
  }
  if (used_jobs == 0) {
    out.ok = true;
    return out;
  }
  const int rows = 2 * used_jobs + used_types;
  for (int m = 0; m < p.jobs; ++m) {
    for (int j = 0; j < p.types; ++j) {
      double c = coef[static_cast<size_t>(m) * p.types + j];
      if (c <= 0) continue;
      starts.push_back(static_cast<CoinBigIndex>(idx.size()));
      idx.push_back(job_row[m]);
      val.push_back(c);
      idx.push_back(used_jobs + job_row[m]);
      val.push_back(1.0);
      idx.push_back(type_row[j]);
      val.push_back(p.workers[m]);
      col_of.push_back(m * p.types + j);
    }
  }
  const int xcols = static_cast<int>(col_of.size());
  // z column: -1 in every throughput row.
  starts.push_back(static_cast<CoinBigIndex>(idx.size()));
  for (int m = 0; m < used_jobs; ++m) {
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
  for (int m = 0; m < used_jobs; ++m) {
    row_lo[m] = 0.0;
    row_hi[m] = COIN_DBL_MAX;
    row_lo[used_jobs + m] = -COIN_DBL_MAX;
    row_hi[used_jobs + m] = 1.0;
  }
  for (int j = 0; j < p.types; ++j) {
    if (type_row[j] < 0) continue;
    row_lo[type_row[j]] = -COIN_DBL_MAX;
    row_hi[type_row[j]] = p.capacity[j];
  }
  ClpSimplex model;
  model.setLogLevel(0);
  // No CLP scaling: coefficients are already normalised (throughput over the job's equal-share
  // throughput, ~0.1-100), and CLP 1.17's default scaling trips its own assertion
  // (ClpPackedMatrix.cpp:5222, elValue) on some of these problems (Philly on PAI reproduces it).
  model.scaling(0);
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
    model.setObjectiveCoefficient(c, -coef[col_of[c]]);
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
