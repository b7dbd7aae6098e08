// The simulator's carbon file (`cnet simulate --carbon FILE`, docs/energy.md): per-site signals
// (a constant or a CSV series, optionally shifted) and tariffs, the forecast's error model,
// temporal shifting, and deadlines for a fraction of the jobs. Errors name file:line:col and field.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sched/estimate/site_carbon.h"
#include "sim/simulator.h"

namespace cnet {

struct CarbonSetup {
  std::shared_ptr<SiteCarbon> carbon;
  std::optional<ShiftOptions> shift;  // `shift:` present
  SimOptions::Deadlines deadlines;    // `deadlines:`; fraction 0 when absent
  std::vector<std::string> labels;    // "site: where its signal comes from", in file order
};

// Series paths are relative to the file's directory. `sites`: the cluster's; every one must be
// listed (a benchmark should not fall back to the default intensity unnoticed).
Result<CarbonSetup> LoadCarbonFile(const std::string& path, const std::vector<std::string>& sites);

}  // namespace cnet
