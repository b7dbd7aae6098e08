// A site's `attributes:` mapping in the service config (docs/formats.md, docs/data.md): the facts
// dataset residency policies are written over (region, country, jurisdiction, provider,
// security_level, free-form keys). Strict: a mapping of scalar values whose keys and values are
// words a residency expression can name; every error names the file, line, column and field.
#pragma once

#include <map>
#include <string>

#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "model/yaml_util.h"

namespace cnet::service {

// Reads `site[attributes]` (absent: none). `region` is the site's `region` key unless the
// attributes give it; giving both with different values is an error.
Result<std::map<std::string, std::string>> ParseSiteAttributes(const YamlCtx& c, const YAML::Node& site,
                                                               const std::string& path, const std::string& region);

}  // namespace cnet::service
