#include "service/site_attributes.h"

#include <cctype>

namespace cnet::service {

namespace {

// "file:line:column: field 'f': msg" (yaml-cpp marks are 0-based).
Status AttrError(const YamlCtx& c, const YAML::Node& n, const std::string& field, const std::string& msg) {
  return InvalidArgument(c.file + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1) +
                         ": field '" + field + "': " + msg);
}

// A word of the residency grammar (docs/data.md): letters, digits and _ . - : / +.
bool IsWord(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-' && ch != ':' &&
        ch != '/' && ch != '+')
      return false;
  return true;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseSiteAttributes(const YamlCtx& c, const YAML::Node& site,
                                                               const std::string& path, const std::string& region) {
  std::map<std::string, std::string> out;
  const std::string p = path + ".attributes";
  const YAML::Node a = site["attributes"];
  if (a && !a.IsNull()) {
    if (!a.IsMap()) return AttrError(c, a, p, "expected a mapping of attribute: value, e.g. {country: CN, security_level: 3}");
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!IsWord(key) || !std::isalpha(static_cast<unsigned char>(key[0])))
        return AttrError(c, it->first, p, "attribute names start with a letter and use letters, digits, _ . - : / +");
      const YAML::Node v = it->second;  // a copy: it-> yields a temporary (ASan: stack-use-after-scope)
      if (!v.IsScalar())
        return AttrError(c, v, p + "." + key, "expected a single value (a word or a number), not a list or mapping");
      if (!IsWord(v.Scalar()))
        return AttrError(c, v, p + "." + key,
                         "'" + v.Scalar() + "' is not a value a residency expression can name (letters, digits, _ . - : / +)");
      out[key] = v.Scalar();
    }
  }
  auto r = out.find("region");
  if (r == out.end()) {
    if (IsWord(region)) out["region"] = region;
  } else if (site["region"] && r->second != region) {
    return AttrError(c, a["region"], p + ".region",
                     "differs from the site's region '" + region + "'; give it once");
  }
  return out;
}

}  // namespace cnet::service
