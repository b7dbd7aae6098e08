// Rack power caps and site power budgets in the loop (docs/energy.md, "Power caps and budgets"):
// the budget in force on each site (service/power_budget.h) becomes its rack's budget in the
// scheduler's capacity every tick, and a waiting job's reason names the sites whose cap or budget
// holds it back. Loop thread only.
#pragma once

#include <string>

#include "model/job.h"
#include "service/loop_state.h"
#include "service/wait_reasons.h"

namespace cnet::service {

// Sets each rack's budget from st.power at st.clock.Now(); true when one changed (the caller runs
// a cycle: a raised budget may start waiting work). Also sets the per-site power gauges.
bool ApplyPowerBudgets(LoopState& st);

// The sites whose power limit (cap or budget) leaves no room for one more busy package of a type
// they carry, or that are under a budget below their cap; for waiting jobs' reasons.
class PowerBook {
 public:
  explicit PowerBook(const LoopState& st);
  bool any() const { return book_.any(); }
  // "<reason>; site s: power budget 5 kW (...), drawing 4.8 kW: new work there waits", or
  // "waiting for power: site s: ...; <reason>" when every site that could run the job is limited.
  std::string With(const std::string& reason, const JobSpec& job) const;

 private:
  OutageBook book_;
};

}  // namespace cnet::service
