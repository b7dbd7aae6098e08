// Temporal shifting's options written in YAML (docs/energy.md): the simulator's carbon file
// `shift:` and the service config's `temporal_shift:`, the same keys and bounds.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "model/yaml_util.h"
#include "sched/estimate/temporal_shift.h"

namespace cnet {

// Keys step_min, horizon_h, min_gain, margin, margin_min, each optional (ShiftOptions' defaults);
// errors name the file, line, column and `path`.key.
Result<ShiftOptions> ParseShiftOptions(const YamlCtx& c, const YAML::Node& n, const std::string& path);

}  // namespace cnet
