#include "sched/elastic_sizes.h"

#include <algorithm>
#include <string>

namespace cnet {

Status CheckElastic(const JobSpec& s) {
  const int lo = s.MinWorkers(), hi = s.MaxWorkers();
  auto bad = [](const char* field, const std::string& msg) {
    return InvalidArgument(std::string(field) + ": " + msg);
  };
  if (lo < 1) return bad("min_workers", "must be >= 1");
  if (lo > s.workers)
    return bad("min_workers", std::to_string(lo) + " is more than workers (" + std::to_string(s.workers) + ")");
  if (hi < s.workers)
    return bad("max_workers", std::to_string(hi) + " is less than workers (" + std::to_string(s.workers) + ")");
  if (hi > 1000000) return bad("max_workers", "must be at most 1000000");
  if (s.unit > 1 && (lo % s.unit != 0 || hi % s.unit != 0))
    return bad("min_workers", "min_workers and max_workers must be multiples of the packages per worker (" +
                                  std::to_string(s.unit) + ")");
  if (s.job_type.empty() && !s.type_id.valid())
    return bad("min_workers", "an elastic job needs a job_type (the throughput model gives each size its rate)");
  return Status::Ok();
}

std::vector<int> ElasticSizes(const JobSpec& s) {
  const int u = std::max(1, s.unit), lo = s.MinWorkers(), hi = s.MaxWorkers();
  std::vector<int> out;
  if ((hi - lo) / u + 1 <= static_cast<int>(kMaxElasticSizes)) {
    for (int w = lo; w <= hi; w += u) out.push_back(w);
  } else {
    std::vector<int> mid;
    for (long p = u; p < hi; p *= 2)
      if (p > lo && p != s.workers) mid.push_back(static_cast<int>(p));
    // Keep kMaxElasticSizes - 3 of them, evenly by index (they are geometric already).
    const size_t keep = kMaxElasticSizes - 3;
    if (mid.size() > keep) {
      std::vector<int> thin;
      for (size_t i = 0; i < keep; ++i) thin.push_back(mid[i * (mid.size() - 1) / (keep - 1)]);
      mid = std::move(thin);
    }
    out = {lo, hi, s.workers};
    out.insert(out.end(), mid.begin(), mid.end());
  }
  if (std::find(out.begin(), out.end(), s.workers) == out.end()) out.push_back(s.workers);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace cnet
