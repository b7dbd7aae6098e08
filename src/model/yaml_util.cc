#include "model/yaml_util.h"

#include <optional>

#include "common/csv.h"
#include "common/strings.h"
#include "common/suggest.h"
#include "common/yaml_strict.h"

namespace cnet {

namespace {
std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
}  // namespace

Result<YAML::Node> ParseYamlText(const std::string& text, const std::string& file) {
  CNET_RETURN_IF_ERROR(CheckStrictYaml(text, file));  // what yaml-cpp would wrongly accept
  try {
    YAML::Node n = YAML::Load(text);
    if (!n || n.IsNull()) return InputError(file, 1, "", "empty YAML document");
    return n;
  } catch (const YAML::Exception& e) {
    return InputError(file, e.mark.line + 1, "", "YAML syntax error: " + e.msg);
  }
}

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseYamlText(text, path);
}

Result<std::string> YamlString(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                               const std::string& path, const std::string* def) {
  YAML::Node v = map[key];
  if (!v) {
    if (def) return *def;
    return c.Error(map, Join(path, key), "missing required field");
  }
  if (!v.IsScalar()) return c.Error(v, Join(path, key), "expected a string");
  std::string s = v.as<std::string>();
  if (s.empty()) return c.Error(v, Join(path, key), "empty string");
  return s;
}

Result<double> YamlDouble(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                          const std::string& path, const double* def) {
  YAML::Node v = map[key];
  if (!v) {
    if (def) return *def;
    return c.Error(map, Join(path, key), "missing required field");
  }
  if (!v.IsScalar()) return c.Error(v, Join(path, key), "expected a number");
  auto d = ParseDouble(v.Scalar());
  if (!d) return c.Error(v, Join(path, key), "not a number: '" + v.Scalar() + "'");
  return *d;
}

Result<double> YamlNumberIn(const YamlCtx& c, const YAML::Node& map, const std::string& key, const std::string& path,
                            double def, double lo, double hi) {
  if (!map[key]) return def;
  const YAML::Node v = map[key];
  std::optional<double> d = v.IsScalar() ? ParseDouble(v.Scalar()) : std::nullopt;
  if (!d) return c.Error(v, Join(path, key), "expected a number");
  if (!(*d >= lo && *d <= hi))
    return c.Error(v, Join(path, key), "must be between " + FormatNumber("%g", lo) + " and " + FormatNumber("%g", hi));
  return *d;
}

Result<int64_t> YamlInt(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                        const std::string& path, const int64_t* def) {
  YAML::Node v = map[key];
  if (!v) {
    if (def) return *def;
    return c.Error(map, Join(path, key), "missing required field");
  }
  if (!v.IsScalar()) return c.Error(v, Join(path, key), "expected an integer");
  auto d = ParseInt(v.Scalar());
  if (!d) return c.Error(v, Join(path, key), "not an integer: '" + v.Scalar() + "'");
  return *d;
}

Status YamlOnlyKeys(const YamlCtx& c, const YAML::Node& map, const std::vector<std::string>& allowed,
                    const std::string& path) {
  if (!map.IsMap()) return c.Error(map, path, "expected a mapping");
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar())
      return c.Error(it->first, path, "a key must be a plain name, not a list or mapping");
    std::string k = it->first.Scalar();
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == k;
    if (!ok) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return c.Error(it->first, Join(path, k), "unknown field" + DidYouMean(k, allowed) + " (allowed: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<YAML::Node> YamlSeq(const YamlCtx& c, const YAML::Node& map, const std::string& key,
                           const std::string& path) {
  YAML::Node v = map[key];
  if (!v) return c.Error(map, Join(path, key), "missing required field");
  if (!v.IsSequence()) return c.Error(v, Join(path, key), "expected a list");
  return v;
}

}  // namespace cnet
