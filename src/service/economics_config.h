// The site economics keys of the service config (docs/formats.md "Site economics"): each site's
// `price_per_hour_usd` (a number, or a mapping type -> number) and the top-level `network:` block.
// Errors name the file, line, column and field. Type names are checked against the catalogue
// later (SiteEconomics::Resolve, in Service::Create), when the catalogue is loaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include "model/yaml_util.h"
#include "service/config.h"

namespace cnet::service {

// Reads both into cfg->economics; cfg->sites must already be parsed.
Status LoadEconomicsKeys(const YamlCtx& c, const YAML::Node& root, ServiceConfig* cfg);

}  // namespace cnet::service
