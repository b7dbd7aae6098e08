// Rendering simulation results: a readable table and the JSON document of `cnet simulate --json`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/simulator.h"

namespace cnet {

nlohmann::json ToJson(const SimResult& r);
// One row per result: policy, jobs, avg/p50/p99 JCT, makespan, utilisation, energy, cost...
std::string FormatTable(const std::vector<SimResult>& rs);

}  // namespace cnet
