#include "sim/elastic_variant.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"

namespace cnet {

Result<ElasticRange> ParseElasticRange(const std::string& text) {
  auto bad = [&] {
    return InvalidArgument("--elastic: expected MIN:FACTOR (e.g. 1:2 for min 1 worker, max 2x the trace's size), got '" +
                           text + "'");
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return bad();
  std::string f = text.substr(colon + 1);
  if (!f.empty() && (f.back() == 'x' || f.back() == 'X')) f.pop_back();
  ElasticRange r;
  auto lo = ParseInt(text.substr(0, colon));
  auto hi = ParseDouble(f);
  if (!lo || !hi || *lo < 1 || *lo > 1000000 || !(*hi >= 1) || *hi > 1024) return bad();
  r.min_workers = static_cast<int>(*lo);
  r.max_factor = *hi;
  return r;
}

void MakeElastic(Workload* w, const ElasticRange& range) {
  for (size_t i = 0; i < w->jobs.size(); ++i) {
    JobSpec& j = w->jobs[i];
    if (j.Elastic() || w->ShareMilli(i) > 0) continue;  // a fractional job stays one worker
    const int unit = std::max(1, j.unit);
    j.min_workers = std::min(range.min_workers * unit, j.workers);
    const int workers = j.workers / unit;
    j.max_workers = std::max(j.workers, static_cast<int>(std::floor(workers * range.max_factor)) * unit);
  }
}

}  // namespace cnet
