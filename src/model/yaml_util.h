// Helpers that read typed YAML fields and fail with "file:line: field 'x': ..." messages.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace cnet {

struct YamlCtx {
  std::string file;
  // 1-based line of a node (yaml-cpp marks are 0-based).
  static int Line(const YAML::Node& n) { return n.Mark().line + 1; }
  static int Column(const YAML::Node& n) { return n.Mark().column + 1; }
  // "file:line:column: field 'field': msg", at node `n` (a key, for an unknown field).
  Status Error(const YAML::Node& n, const std::string& field, const std::string& msg) const {
    return InputError(file, Line(n), Column(n), field, msg);
  }
};

// Parses YAML text; syntax errors name the file and line.
Result<YAML::Node> ParseYamlText(const std::string& text, const std::string& file);
Result<YAML::Node> LoadYamlFile(const std::string& path);

// Required/optional typed fields of a map node. `path` prefixes the field name in messages
// (e.g. "sites[0].racks[1].power_cap_kw").
Result<std::string> YamlString(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                               const std::string& path, const std::string* def = nullptr);
Result<double> YamlDouble(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                          const std::string& path, const double* def = nullptr);
// An optional number within [lo, hi]; `def` when absent. "expected a number" / "must be between
// lo and hi", at the value.
Result<double> YamlNumberIn(const YamlCtx& c, const YAML::Node& map, const std::string& key, const std::string& path,
                            double def, double lo, double hi);
Result<int64_t> YamlInt(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                        const std::string& path, const int64_t* def = nullptr);
// Fails if the map has a key not in `allowed` (catches typos such as "power_cap_kW").
Status YamlOnlyKeys(const YamlCtx& c, const YAML::Node& map, const std::vector<std::string>& allowed,
                    const std::string& path);
Result<YAML::Node> YamlSeq(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                           const std::string& path);

}  // namespace cnet
