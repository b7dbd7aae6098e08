#include "sim/carbon_config.h"

#include <algorithm>

#include "common/strings.h"
#include "model/tariff_yaml.h"
#include "model/yaml_util.h"
#include "sched/estimate/economics.h"
#include "sched/estimate/shift_yaml.h"

namespace cnet {

namespace {


std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// The site's signal on its own clock (the caller moves it to simulated time).
Result<CarbonSignal> ParseSiteSignal(const YamlCtx& c, const YAML::Node& n, const std::string& path, const std::string& dir) {
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, n, {"constant", "series", "shift_h", "note", "tariff"}, path));
  if (!n["constant"] == !n["series"]) return YamlErrorAt(c, n, path, "give exactly one of constant or series");
  if (n["constant"]) {
    CNET_ASSIGN_OR_RETURN(double g, YamlNumberIn(c, n, "constant", path, 0, 0, 5000));
    return CarbonSignal::Constant(g, "constant " + FormatNumber("%g", g) + " g/kWh");
  }
  const std::string file = n["series"].IsScalar() ? n["series"].Scalar() : "";
  if (file.empty()) return YamlErrorAt(c, n["series"], path + ".series", "expected a CSV path");
  CNET_ASSIGN_OR_RETURN(double shift_h, YamlNumberIn(c, n, "shift_h", path, 0, -24 * 366, 24 * 366));
  std::string note = n["note"] && n["note"].IsScalar() ? n["note"].Scalar() : "";
  if (shift_h != 0 && note.empty())
    return YamlErrorAt(c, n["shift_h"], path + ".shift_h", "a shifted series must say why (note: ...)");
  CNET_ASSIGN_OR_RETURN(CarbonSignal s, CarbonSignal::ReadCsv(file.front() == '/' ? file : dir + file));
  if (shift_h != 0) s = s.Shifted(shift_h * 3600, note);
  return s;
}

}  // namespace

Result<CarbonSetup> LoadCarbonFile(const std::string& path, const std::vector<std::string>& sites) {
  CNET_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  YamlCtx c{path};
  if (!root.IsMap()) return YamlErrorAt(c, root, "", "expected a mapping with origin and sites");
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, root, {"origin", "sites", "forecast", "shift", "deadlines"}, ""));
  Seconds origin = 0;
  if (root["origin"]) {
    std::optional<Seconds> o = root["origin"].IsScalar() ? ParseUtcTimestamp(root["origin"].Scalar()) : std::nullopt;
    if (!o) return YamlErrorAt(c, root["origin"], "origin", "expected YYYY-MM-DD HH:MM:SS (UTC)");
    origin = *o;
  }
  const std::string origin_text = root["origin"] ? root["origin"].Scalar() + " UTC" : "1970-01-01 00:00:00 UTC";
  CarbonSetup out;
  out.carbon = std::make_shared<SiteCarbon>();
  if (const YAML::Node f = root["forecast"]) {
    CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, f, {"sigma0", "sigma_per_day", "sigma_max", "seed"}, "forecast"));
    ForecastError e;
    CNET_ASSIGN_OR_RETURN(e.sigma0, YamlNumberIn(c, f, "sigma0", "forecast", e.sigma0, 0, 5));
    CNET_ASSIGN_OR_RETURN(e.sigma_per_day, YamlNumberIn(c, f, "sigma_per_day", "forecast", e.sigma_per_day, 0, 5));
    CNET_ASSIGN_OR_RETURN(e.sigma_max, YamlNumberIn(c, f, "sigma_max", "forecast", e.sigma_max, 0, 5));
    CNET_ASSIGN_OR_RETURN(double seed, YamlNumberIn(c, f, "seed", "forecast", 0, 0, 1e15));
    e.seed = static_cast<uint64_t>(seed);
    out.carbon->SetForecastError(e);
  }
  const YAML::Node ss = root["sites"];
  if (!ss || !ss.IsMap()) return YamlErrorAt(c, ss ? ss : root, "sites", "expected a mapping of site: signal");
  for (auto it = ss.begin(); it != ss.end(); ++it) {
    const std::string site = it->first.Scalar();
    const std::string p = "sites." + site;
    if (std::find(sites.begin(), sites.end(), site) == sites.end())
      return YamlErrorAt(c, it->first, p, "unknown site '" + site + "'");
    if (!it->second.IsMap()) return YamlErrorAt(c, it->second, p, "expected a mapping (constant or series)");
    CNET_ASSIGN_OR_RETURN(CarbonSignal s, ParseSiteSignal(c, it->second, p, DirOf(path)));
    out.labels.push_back(site + ": " + s.label());
    out.carbon->SetSignal(site, s.Shifted(origin, "simulated t=0"));
    if (it->second["tariff"]) {
      CNET_ASSIGN_OR_RETURN(Tariff t, ParseTariff(c, it->second["tariff"], p + ".tariff"));
      out.carbon->SetTariff(site, std::move(t));
    }
  }
  out.labels.push_back("simulated t=0 is " + origin_text);
  for (const std::string& s : sites)
    if (!out.carbon->signal(s)) return YamlErrorAt(c, ss, "sites", "site '" + s + "' has no signal");
  if (const YAML::Node sh = root["shift"]) {
    CNET_ASSIGN_OR_RETURN(ShiftOptions o, ParseShiftOptions(c, sh, "shift"));
    out.shift = o;
  }
  if (const YAML::Node d = root["deadlines"]) {
    CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, d, {"fraction", "slack", "seed"}, "deadlines"));
    CNET_ASSIGN_OR_RETURN(out.deadlines.fraction, YamlNumberIn(c, d, "fraction", "deadlines", 0, 0, 1));
    CNET_ASSIGN_OR_RETURN(out.deadlines.slack, YamlNumberIn(c, d, "slack", "deadlines", 3, 1, 1000));
    CNET_ASSIGN_OR_RETURN(double seed, YamlNumberIn(c, d, "seed", "deadlines", 0, 0, 1e15));
    out.deadlines.seed = static_cast<uint64_t>(seed);
  }
  return out;
}

}  // namespace cnet
