#include "perf/perf_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace cnet {

PerfModel::PerfModel(const Catalogue& cat, const ThroughputMatrix& m) : cat_(cat), m_(m) {
  size_t n = m.num_job_types();
  ref_.resize(n);
  alpha_.assign(n, 0.5);
  for (size_t i = 0; i < n; ++i) {
    JobTypeId t(static_cast<int32_t>(i));
    auto measured = m.MeasuredAccels(t);
    assert(!measured.empty());
    AccelId ref = measured[0];
    for (AccelId a : measured)
      if (cat.Get(a).peak_tflops > cat.Get(ref).peak_tflops) ref = a;
    ref_[i] = ref;
    // Least squares for alpha in log T_a/T_r = alpha*log(C_a/C_r) + (1-alpha)*log(B_a/B_r).
    double sxy = 0, sxx = 0;
    double tr = *m.Get(t, ref, 1, false);
    const auto& r = cat.Get(ref);
    for (AccelId a : measured) {
      if (a == ref) continue;
      const auto& s = cat.Get(a);
      double y = std::log(*m.Get(t, a, 1, false) / tr) - std::log(s.mem_bw_gbs / r.mem_bw_gbs);
      double x = std::log(s.peak_tflops / r.peak_tflops) - std::log(s.mem_bw_gbs / r.mem_bw_gbs);
      sxy += x * y;
      sxx += x * x;
    }
    if (sxx > 1e-12) alpha_[i] = std::clamp(sxy / sxx, 0.0, 1.0);
  }
}

double PerfModel::CommRatio(JobTypeId t, int n, bool spread) const {
  if (n <= 1) return 0;
  AccelId ref = ref_[t.value()];
  double t1 = *m_.Get(t, ref, 1, false);
  auto ratio_at = [&](int w, bool sp) -> std::optional<double> {
    auto v = m_.Get(t, ref, w, sp);
    if (!v) return std::nullopt;
    double eff = std::clamp(*v / (w * t1), 0.05, 1.0);
    return (1 - eff) / eff;
  };
  for (bool sp : {spread, false}) {
    auto ws = m_.MeasuredWorkers(t, ref, sp);
    int best = 0;
    for (int w : ws)
      if (w > 1 && (best == 0 || std::abs(std::log2(w) - std::log2(n)) <
                                     std::abs(std::log2(best) - std::log2(n))))
        best = w;
    if (best == 0) continue;
    double f = *ratio_at(best, sp);
    // Ring all-reduce moves 2(n-1)/n of the gradients per step.
    f *= (static_cast<double>(n - 1) / n) / (static_cast<double>(best - 1) / best);
    if (spread && !sp) {
      // Only on-node measured: scale by the link/network bandwidth ratio of the reference.
      const auto& r = cat_.Get(ref);
      if (r.link_bw_gbs > 0) f *= r.link_bw_gbs / r.network_bw_gbs;
    }
    return f;
  }
  return 0.1;  // no multi-worker measurement at all: assume 10% communication time
}

double PerfModel::SingleDie(JobTypeId t, AccelId a) const {
  AccelId ref = ref_[t.value()];
  const auto& s = cat_.Get(a);
  const auto& r = cat_.Get(ref);
  double d = s.dies_per_package;
  double al = alpha_[t.value()];
  double tr = *m_.Get(t, ref, 1, false);
  return tr * std::pow(s.peak_tflops / d / r.peak_tflops, al) *
         std::pow(s.mem_bw_gbs / d / r.mem_bw_gbs, 1 - al);
}

double PerfModel::SingleWorker(JobTypeId t, AccelId a, bool* predicted) const {
  if (auto v = m_.Get(t, a, 1, false)) return *v;
  *predicted = true;
  const auto& s = cat_.Get(a);
  double die = SingleDie(t, a);
  if (s.dies_per_package <= 1) return die;
  // A package of D dies: a D-worker gang joined by the die-to-die link.
  AccelId ref = ref_[t.value()];
  const auto& r = cat_.Get(ref);
  double f = CommRatio(t, s.dies_per_package, false);
  double ref_bw = r.link_bw_gbs > 0 ? r.link_bw_gbs : r.network_bw_gbs;
  double tr = *m_.Get(t, ref, 1, false);
  return s.dies_per_package * die / (1 + f * (ref_bw / s.d2d_bw_gbs) * (die / tr));
}

std::optional<double> PerfModel::OwnCommRatio(JobTypeId t, AccelId a, int n, bool spread,
                                              double t1) const {
  if (t1 <= 0) return std::nullopt;
  std::vector<std::pair<double, double>> pts;  // (log size, c)
  for (int w : m_.MeasuredWorkers(t, a, spread)) {
    if (w <= 1) continue;
    // Efficiency clamped: superlinear gangs (cache effects) at most 1.5x, hopeless ones 2%.
    double eff = std::clamp(*m_.Get(t, a, w, spread) / (w * t1), 0.02, 1.5);
    pts.push_back({std::log(w), (1 / eff - 1) / ((w - 1.0) / w)});
  }
  if (pts.empty()) return std::nullopt;
  const double x = std::log(n);
  if (x <= pts.front().first) return pts.front().second;
  if (x >= pts.back().first) return pts.back().second;
  size_t k = 1;
  while (pts[k].first < x) ++k;
  const auto& [x0, c0] = pts[k - 1];
  const auto& [x1, c1] = pts[k];
  return c0 + (c1 - c0) * (x - x0) / (x1 - x0);
}

Estimate PerfModel::CpuThroughput(JobTypeId t, AccelId a, int workers, bool spread) const {
  if (auto v = m_.Get(t, a, workers, spread)) return {*v, false};
  auto t1 = m_.Get(t, a, 1, false);
  if (!t1 || *t1 <= 0) return {};  // not measured on this CPU type: it does not run there
  if (workers == 1) return {*t1, false};
  if (auto c = OwnCommRatio(t, a, workers, spread, *t1))
    return {workers * *t1 / std::max(0.02, 1 + *c * (workers - 1.0) / workers), true};
  return {};
}

Estimate PerfModel::Throughput(JobTypeId t, AccelId a, int workers, int nodes) const {
  assert(workers >= 1 && nodes >= 1);
  const auto& s = cat_.Get(a);
  bool spread = nodes > 1;
  if (s.kind == AccelKind::kCpu) return CpuThroughput(t, a, workers, spread);
  if (auto v = m_.Get(t, a, workers, spread)) return {*v, false};
  // A measured 0 (e.g. out of memory) on one worker, or on this gang on one node, rules out
  // the type for larger or spread gangs too.
  if (m_.Get(t, a, 1, false) == 0.0 || (spread && m_.Get(t, a, workers, false) == 0.0)) return {0, false};
  bool predicted = true;
  double t1 = SingleWorker(t, a, &predicted);
  if (workers == 1) return {t1, predicted};
  const double share = (workers - 1.0) / workers;
  if (auto c = OwnCommRatio(t, a, workers, spread, t1))
    return {workers * t1 / std::max(0.02, 1 + *c * share), true};
  if (spread) {
    if (auto c = OwnCommRatio(t, a, workers, false, t1)) {
      double f = *c * (s.link_bw_gbs > 0 && s.network_bw_gbs > 0 ? s.link_bw_gbs / s.network_bw_gbs : 1.0);
      return {workers * t1 / std::max(0.02, 1 + f * share), true};
    }
  }
  AccelId ref = ref_[t.value()];
  const auto& r = cat_.Get(ref);
  double f = CommRatio(t, workers, spread);
  double bw_ref = spread ? r.network_bw_gbs : (r.link_bw_gbs > 0 ? r.link_bw_gbs : r.network_bw_gbs);
  double bw = spread ? s.network_bw_gbs : (s.link_bw_gbs > 0 ? s.link_bw_gbs : s.network_bw_gbs);
  double tr = *m_.Get(t, ref, 1, false);
  double v = workers * t1 / (1 + f * (bw_ref / bw) * (t1 / tr));
  return {v, true};
}

}  // namespace cnet
