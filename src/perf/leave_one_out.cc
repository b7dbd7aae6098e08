#include "perf/leave_one_out.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include "perf/perf_model.h"

namespace cnet {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(std::ceil(q * v.size()));
  return v[std::clamp<size_t>(k, 1, v.size()) - 1];
}

LooResult LeaveOneOut(const Catalogue& cat, const ThroughputMatrix& m) {
  LooResult out;
  for (const auto& p : m.Points()) {
    // A one-worker "spread" row crosses no node boundary: nothing to evaluate.
    if (p.steps_per_s <= 0 || (p.spread && p.workers == 1)) continue;
    if (p.workers == 1 && !p.spread && m.MeasuredAccels(p.job_type).size() < 2) {
      ++out.skipped;
      continue;
    }
    ThroughputMatrix rest = m.Without(p.job_type, p.accel, p.workers, p.spread);
    PerfModel model(cat, rest);
    Estimate e = model.Throughput(p.job_type, p.accel, p.workers, p.spread ? 2 : 1);
    out.points.push_back({m.JobTypeName(p.job_type), p.accel, p.workers, p.spread, p.steps_per_s,
                          e.steps_per_s});
  }
  return out;
}

std::string FormatLooTable(const Catalogue& cat, const LooResult& r) {
  // (accelerator, class) -> ratios; class 0: one worker, 1: gang on one node, 2: spread gang.
  std::map<std::tuple<int, int>, std::vector<double>> groups;
  for (const auto& p : r.points) {
    int cls = p.spread ? 2 : (p.workers > 1 ? 1 : 0);
    double ratio = p.predicted / p.measured;
    groups[{p.accel.value(), cls}].push_back(ratio);
    groups[{-1, cls}].push_back(ratio);
  }
  const char* names[] = {"1 worker", "gang, one node", "gang, spread"};
  std::string out = "accelerator  gangs            points  median pred/meas  median |err|  p90 |err|\n";
  char line[200];
  for (const auto& [key, ratios] : groups) {
    auto [a, cls] = key;
    std::vector<double> err;
    for (double x : ratios) err.push_back(std::abs(x - 1));
    std::snprintf(line, sizeof line, "%-12s %-16s %6zu  %16.3f  %11.1f%%  %8.1f%%\n",
                  a < 0 ? "all" : cat.Get(AccelId(a)).name.c_str(), names[cls], ratios.size(),
                  Quantile(ratios, 0.5), 100 * Quantile(err, 0.5), 100 * Quantile(err, 0.9));
    out += line;
  }
  std::snprintf(line, sizeof line, "(%zu single-worker measurements not left out: their job type's only one)\n",
                r.skipped);
  return out + line;
}

}  // namespace cnet
