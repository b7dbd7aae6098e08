// Several policies over one workload, as `cnet simulate --policy a,b,c` runs them: each policy in
// its own Simulate with its own policy object, so one policy's failure (an invalid decision, a
// stall) is reported beside the others' results and never changes them.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sched/policy_registry.h"
#include "sim/simulator.h"

namespace cnet {

struct MultiRunResult {
  std::vector<SimResult> results;                        // policies that finished, in `names` order
  std::vector<std::pair<std::string, Status>> failures;  // (policy, why), in `names` order
};

// `per_policy` (may be null) adjusts a policy's copy of `opts` before its run (e.g. a progress
// bar with its name). A name the registry does not know is a failure of that policy alone.
MultiRunResult SimulatePolicies(const Cluster& cluster, const PerfModel& perf, const PolicyRegistry& registry,
                                const std::vector<std::string>& names, const Workload& workload,
                                const SimOptions& opts,
                                const std::function<void(const std::string&, SimOptions&)>& per_policy = nullptr);

}  // namespace cnet
