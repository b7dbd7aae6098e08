#include "sched/policy/maxmin_lp.h"

#include <coin/ClpSimplex.hpp>
#include <coin/CoinPackedMatrix.hpp>

#include <algorithm>
#include <cmath>

namespace cnet {

namespace {

// The LP in CLP's column-major form. Rows: a throughput row and a time row per job that can run
// somewhere (a job with no column would pin z to 0), then a capacity row per type that carries a
// column (CLP dislikes empty rows). Columns: one per allowed (m, j), then z.
struct LpModel {
  std::vector<double> coef;  // cleaned coefficients times `scale`, jobs * types
  double scale = 1;          // z of this LP = scale * z of the problem
  std::vector<int> job_row;  // job -> index among used jobs, -1: no column
  std::vector<int> type_row;  // type -> its capacity row, -1: none
  int used_jobs = 0;
  int rows = 0;
  std::vector<int> col_of;  // x column -> m * types + j
  std::vector<CoinBigIndex> starts;
  std::vector<int> idx;
  std::vector<double> val;
  int xcols() const { return static_cast<int>(col_of.size()); }  // z is column xcols()
};

// Coefficients negligible next to the job's best one (or not finite) are dropped: CLP asserts
// on elements its scaling turns into zero.
std::vector<double> CleanCoefficients(const MaxMinProblem& p) {
  std::vector<double> coef(p.coef.size(), 0.0);
  for (int m = 0; m < p.jobs; ++m) {
    const size_t row = static_cast<size_t>(m) * p.types;
    double best = 0;
    for (int j = 0; j < p.types; ++j) {
      double c = p.coef[row + j];
      if (std::isfinite(c) && c > best) best = c;
    }
    for (int j = 0; j < p.types; ++j) {
      double c = p.coef[row + j];
      if (std::isfinite(c) && c > 1e-9 * best && c > 1e-30 && p.capacity[j] > 0) coef[row + j] = c;
    }
  }
  return coef;
}

// When the median job's best coefficient is far from 1, multiplies every coefficient by one
// factor that makes it 1: the same LP (x unchanged, z scaled), but with elements near 1 instead
// of, e.g., makespan's 1 / seconds-to-finish (~1e-6), close to CLP's tolerances (1e-7). Problems
// already near 1 (the normalised fairness LPs) are left as they are, so their solutions do not
// move between equally good vertices.
void Scale(const MaxMinProblem& p, LpModel& lp) {
  std::vector<double> best;
  for (int m = 0; m < p.jobs; ++m) {
    double b = 0;
    for (int j = 0; j < p.types; ++j) b = std::max(b, lp.coef[static_cast<size_t>(m) * p.types + j]);
    if (b > 0) best.push_back(b);
  }
  if (best.empty()) return;
  std::nth_element(best.begin(), best.begin() + best.size() / 2, best.end());
  const double median = best[best.size() / 2];
  if (median >= 1e-3 && median <= 1e3) return;
  const double s = 1 / median;
  if (!std::isfinite(s) || s <= 0) return;
  lp.scale = s;
  for (double& c : lp.coef)
    if (c > 0) c = c * s > 1e-30 ? c * s : 0;  // never a denormal element
}

// Numbers the rows: jobs with a column, then types with a column.
void AssignRows(const MaxMinProblem& p, LpModel& lp) {
  lp.job_row.assign(p.jobs, -1);
  for (int m = 0; m < p.jobs; ++m) {
    bool any = false;
    for (int j = 0; j < p.types && !any; ++j) any = lp.coef[static_cast<size_t>(m) * p.types + j] > 0;
    if (any) lp.job_row[m] = lp.used_jobs++;
  }
  lp.type_row.assign(p.types, -1);
  int used_types = 0;
  for (int j = 0; j < p.types; ++j) {
    bool any = false;
    for (int m = 0; m < p.jobs && !any; ++m) any = lp.coef[static_cast<size_t>(m) * p.types + j] > 0;
    if (any) lp.type_row[j] = 2 * lp.used_jobs + used_types++;
  }
  lp.rows = 2 * lp.used_jobs + used_types;
}

// Column (m, j): coef in m's throughput row, 1 in its time row, workers in j's capacity row;
// then the z column: -1 in every throughput row.
void BuildColumns(const MaxMinProblem& p, LpModel& lp) {
  for (int m = 0; m < p.jobs; ++m) {
    for (int j = 0; j < p.types; ++j) {
      double c = lp.coef[static_cast<size_t>(m) * p.types + j];
      if (c <= 0) continue;
      lp.starts.push_back(static_cast<CoinBigIndex>(lp.idx.size()));
      lp.idx.push_back(lp.job_row[m]);
      lp.val.push_back(c);
      lp.idx.push_back(lp.used_jobs + lp.job_row[m]);
      lp.val.push_back(1.0);
      lp.idx.push_back(lp.type_row[j]);
      lp.val.push_back(p.workers[m]);
      lp.col_of.push_back(m * p.types + j);
    }
  }
  lp.starts.push_back(static_cast<CoinBigIndex>(lp.idx.size()));
  for (int m = 0; m < lp.used_jobs; ++m) {
    lp.idx.push_back(m);
    lp.val.push_back(-1.0);
  }
  lp.starts.push_back(static_cast<CoinBigIndex>(lp.idx.size()));
}

// Loads phase 1 (maximise z) into `model`.
void Load(const MaxMinProblem& p, const LpModel& lp, ClpSimplex& model) {
  const int cols = lp.xcols() + 1;
  std::vector<int> lengths(cols);
  for (int c = 0; c < cols; ++c) lengths[c] = static_cast<int>(lp.starts[c + 1] - lp.starts[c]);
  CoinPackedMatrix matrix(true, lp.rows, cols, static_cast<CoinBigIndex>(lp.idx.size()),
                          lp.val.data(), lp.idx.data(), lp.starts.data(), lengths.data());
  std::vector<double> col_lo(cols, 0.0), col_hi(cols, 1.0), obj(cols, 0.0);
  col_hi[lp.xcols()] = COIN_DBL_MAX;
  obj[lp.xcols()] = -1.0;  // minimise -z
  std::vector<double> row_lo(lp.rows), row_hi(lp.rows);
  for (int m = 0; m < lp.used_jobs; ++m) {
    row_lo[m] = 0.0;
    row_hi[m] = COIN_DBL_MAX;
    row_lo[lp.used_jobs + m] = -COIN_DBL_MAX;
    row_hi[lp.used_jobs + m] = 1.0;
  }
  for (int j = 0; j < p.types; ++j) {
    if (lp.type_row[j] < 0) continue;
    row_lo[lp.type_row[j]] = -COIN_DBL_MAX;
    row_hi[lp.type_row[j]] = p.capacity[j];
  }
  model.setLogLevel(0);
  // No CLP scaling: coefficients are already normalised (throughput over the job's equal-share
  // throughput, ~0.1-100), and CLP 1.17's default scaling trips its own assertion
  // (ClpPackedMatrix.cpp:5222, elValue) on some of these problems (Philly on PAI reproduces it).
  model.scaling(0);
  model.loadProblem(matrix, col_lo.data(), col_hi.data(), obj.data(), row_lo.data(), row_hi.data());
  model.setOptimizationDirection(1.0);
}

// Phase 2: keep z (less a hair for numerical slack), maximise total normalised throughput.
void SetPhase2(const LpModel& lp, double z, ClpSimplex& model) {
  model.setColumnLower(lp.xcols(), z * (1 - 1e-6));
  for (int c = 0; c < lp.xcols(); ++c) model.setObjectiveCoefficient(c, -lp.coef[lp.col_of[c]]);
  model.setObjectiveCoefficient(lp.xcols(), 0.0);
}

// x from CLP's columns; fails on a non-finite value.
bool ReadX(const LpModel& lp, const ClpSimplex& model, MaxMinSolution& out) {
  const double* sol = model.primalColumnSolution();
  for (int c = 0; c < lp.xcols(); ++c) {
    if (!std::isfinite(sol[c])) {
      out.error = "LP: CLP returned a non-finite x";
      return false;
    }
    out.x[lp.col_of[c]] = std::clamp(sol[c], 0.0, 1.0);
  }
  return true;
}

// Max-sum: phase 2 alone, with z held at 0 (its rows then bind nothing).
MaxMinSolution SolveSum(const LpModel& lp, ClpSimplex& model) {
  MaxMinSolution out;
  out.x.assign(lp.coef.size(), 0.0);
  SetPhase2(lp, 0, model);
  model.setColumnUpper(lp.xcols(), 0.0);
  model.primal();
  if (model.status() != 0) {
    out.error = "max-sum LP: CLP status " + std::to_string(model.status());
    return out;
  }
  out.ok = ReadX(lp, model, out);
  return out;
}

}  // namespace

MaxMinSolution SolveMaxMin(const MaxMinProblem& p) {
  MaxMinSolution out;
  out.x.assign(static_cast<size_t>(p.jobs) * p.types, 0.0);
  LpModel lp;
  lp.coef = CleanCoefficients(p);
  Scale(p, lp);
  AssignRows(p, lp);
  if (lp.used_jobs == 0) {
    out.ok = true;
    return out;
  }
  BuildColumns(p, lp);
  ClpSimplex model;
  Load(p, lp, model);
  if (p.objective == LpObjective::kMaxSum) return SolveSum(lp, model);
  model.dual();
  if (model.status() != 0) {
    out.error = "max-min LP phase 1: CLP status " + std::to_string(model.status());
    return out;
  }
  const double z = model.primalColumnSolution()[lp.xcols()];
  if (!std::isfinite(z)) {
    out.error = "max-min LP phase 1: CLP returned a non-finite z";
    return out;
  }
  out.z = z / lp.scale;
  SetPhase2(lp, z, model);
  model.primal();
  if (model.status() != 0) {
    out.error = "max-min LP phase 2: CLP status " + std::to_string(model.status());
    return out;
  }
  out.ok = ReadX(lp, model, out);
  return out;
}

}  // namespace cnet
