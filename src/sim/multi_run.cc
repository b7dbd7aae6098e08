#include "sim/multi_run.h"

namespace cnet {

MultiRunResult SimulatePolicies(const Cluster& cluster, const PerfModel& perf, const PolicyRegistry& registry,
                                const std::vector<std::string>& names, const Workload& workload,
                                const SimOptions& opts,
                                const std::function<void(const std::string&, SimOptions&)>& per_policy) {
  MultiRunResult out;
  for (const std::string& n : names) {
    auto pol = registry.Create(n);
    if (!pol.ok()) {
      out.failures.emplace_back(n, pol.status());
      continue;
    }
    SimOptions o = opts;
    if (per_policy) per_policy(n, o);
    auto r = Simulate(cluster, perf, std::move(*pol), workload, o);
    if (r.ok()) out.results.push_back(std::move(r).value());
    else out.failures.emplace_back(n, r.status());
  }
  return out;
}

}  // namespace cnet
