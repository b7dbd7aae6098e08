#include "sim/generator.h"

#include <cmath>
#include <cstdio>

namespace cnet {

Result<Workload> GenerateGavel(GavelWorkload kind, double rate_per_hour, size_t jobs,
                               const PerfModel& perf, AccelId reference, Rng& rng) {
  if (jobs == 0 || jobs > 10'000'000) return InvalidArgument("--jobs: must be between 1 and 10000000");
  const ThroughputMatrix& m = perf.matrix();
  std::vector<std::vector<JobTypeId>> by_workers(9);
  for (int w : {1, 2, 4, 8})
    for (size_t i = 0; i < m.num_job_types(); ++i)
      if (m.Get(JobTypeId(static_cast<int32_t>(i)), reference, w, false).value_or(0) > 0)
        by_workers[w].push_back(JobTypeId(static_cast<int32_t>(i)));
  if (by_workers[1].empty())
    return InvalidArgument("reference accelerator has no single-worker measurements");
  Workload out;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", rate_per_hour);
  out.source = std::string(kind == GavelWorkload::kSingle ? "gavel-single" : "gavel-multi") +
               (rate_per_hour > 0 ? std::string(" at ") + rate + " jobs/h" : std::string(", all at time 0"));
  double t = 0;
  for (size_t i = 0; i < jobs; ++i) {
    if (i > 0 && rate_per_hour > 0) t += rng.Exponential(rate_per_hour / 3600.0);
    int workers = 1;
    if (kind == GavelWorkload::kMulti) {
      static const int kCounts[] = {1, 2, 4, 8};
      workers = kCounts[rng.Weighted({0.70, 0.10, 0.15, 0.05})];
      if (by_workers[workers].empty()) workers = 1;
    }
    const auto& pool = by_workers[workers];
    JobTypeId type = pool[static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1))];
    double duration = rng.Bernoulli(0.8) ? 60 * std::pow(10.0, rng.Uniform(1.5, 3))
                                         : 60 * std::pow(10.0, rng.Uniform(3, 4));
    JobSpec j;
    j.id = JobId(static_cast<int64_t>(i));
    j.name = "job-" + std::to_string(i);
    j.type_id = type;
    j.job_type = m.JobTypeName(type);
    j.workers = workers;
    j.submit_time_s = t;
    j.total_steps = duration * *m.Get(type, reference, workers, false);
    out.jobs.push_back(std::move(j));
    out.lines.push_back(0);
  }
  return out;
}

}  // namespace cnet
