// Joules counters for /metrics (docs/energy.md): every job that ran adds its energy to
// cnet_job_energy_joules_total{site, type, tenant, source}, source being the site's measuring
// source or "estimated" (service/acct.h, EstimatedEnergyJ). Loop thread only.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "service/loop_state.h"

namespace cnet::service {

// After `a` ended at `end` (its row already committed). `measured`: joules and source from its site.
void CountJobEnergy(LoopState& st, const Active& a, double end, const std::optional<std::pair<double, std::string>>& measured);

}  // namespace cnet::service
