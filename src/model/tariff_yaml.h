// An energy tariff written in YAML (docs/energy.md): one price per kWh for the whole day, or a
// list of 24 (hour 0..23, UTC). Used by the simulator's carbon file and the service's site blocks.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "model/carbon_signal.h"
#include "model/yaml_util.h"

namespace cnet {

// Errors name the file, line, column and `path` (e.g. "sites[0].tariff_usd_per_kwh[3]").
Result<Tariff> ParseTariff(const YamlCtx& c, const YAML::Node& n, const std::string& path);

}  // namespace cnet
