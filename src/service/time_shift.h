// Temporal shifting in the service (docs/energy.md, "In the service"): a job taken in (submitted,
// recovered, requeued) whose objective is greenest and which has a deadline may wait for a
// lower-carbon window that its sites' signals predict, with the simulator's planner (PlanStart) and
// the config's `temporal_shift:` options. It then waits behind its gates (service/gates.h) until
// the planned start, with the plan's reason; the plan never starts it later than
// deadline - run x (1 + margin) - margin. Without `temporal_shift:` or carbon signals: no wait.
// Loop thread only.
#pragma once

#include "service/loop_state.h"

namespace cnet::service {

// Sets a.not_before and a.not_before_why when the plan waits; clears them otherwise.
void PlanTimeShift(LoopState& st, Active& a);

}  // namespace cnet::service
