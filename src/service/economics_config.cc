#include "service/economics_config.h"

#include "common/strings.h"
#include "model/tariff_yaml.h"
#include "sched/estimate/site_carbon.h"

namespace cnet::service {

namespace {

// A site's `carbon:` (docs/energy.md): a constant in gCO2eq/kWh, or the path of a
// `Time,Carbon Intensity` CSV (relative to the config file's directory).
Result<CarbonSignal> ParseCarbonKey(const YamlCtx& c, const YAML::Node& v, const std::string& path) {
  if (!v.IsScalar() || v.Scalar().empty()) return YamlErrorAt(c, v, path, "expected gCO2eq/kWh or a CSV path");
  if (std::optional<double> g = ParseDouble(v.Scalar())) {
    if (!(*g >= 0 && *g <= 5000)) return YamlErrorAt(c, v, path, "must be between 0 and 5000 gCO2eq/kWh");
    return CarbonSignal::Constant(*g, "constant " + v.Scalar() + " g/kWh");
  }
  std::string file = v.Scalar();
  const size_t slash = c.file.rfind('/');
  if (file.front() != '/' && slash != std::string::npos) file = c.file.substr(0, slash + 1) + file;
  auto s = CarbonSignal::ReadCsv(file);
  if (!s.ok()) return YamlErrorAt(c, v, path, s.status().message());
  return s;
}

Status LoadCarbonKeys(const YamlCtx& c, const YAML::Node& sites, const ServiceConfig& cfg, SiteEconomics* econ) {
  auto carbon = std::make_shared<SiteCarbon>();
  bool any = false;
  for (size_t i = 0; sites && sites.IsSequence() && i < sites.size(); ++i) {
    const std::string p = "sites[" + std::to_string(i) + "]";
    if (const YAML::Node v = sites[i]["carbon"]) {
      CNET_ASSIGN_OR_RETURN(CarbonSignal s, ParseCarbonKey(c, v, p + ".carbon"));
      carbon->SetSignal(cfg.sites[i].name, std::move(s));
      any = true;
    }
    if (const YAML::Node v = sites[i]["tariff_usd_per_kwh"]) {  // energy becomes part of `cheapest`'s cost
      CNET_ASSIGN_OR_RETURN(Tariff t, ParseTariff(c, v, p + ".tariff_usd_per_kwh"));
      carbon->SetTariff(cfg.sites[i].name, std::move(t));
      any = true;
    }
  }
  if (any) econ->SetCarbon(std::move(carbon));
  return Status::Ok();
}

}  // namespace

Status LoadEconomicsKeys(const YamlCtx& c, const YAML::Node& root, ServiceConfig* cfg) {
  auto econ = std::make_shared<SiteEconomics>();
  std::vector<std::string> names;
  for (const SiteConfig& s : cfg->sites) names.push_back(s.name);
  const YAML::Node sites = root["sites"];
  for (size_t i = 0; sites && sites.IsSequence() && i < sites.size(); ++i) {
    const YAML::Node price = sites[i]["price_per_hour_usd"];
    if (!price) continue;
    const std::string path = "sites[" + std::to_string(i) + "].price_per_hour_usd";
    CNET_RETURN_IF_ERROR(ParseSitePrices(c, price, path, cfg->sites[i].name, econ.get()));
  }
  if (root["network"]) CNET_RETURN_IF_ERROR(ParseNetwork(c, root["network"], "network", names, econ.get()));
  CNET_RETURN_IF_ERROR(LoadCarbonKeys(c, sites, *cfg, econ.get()));
  cfg->economics = std::move(econ);
  return Status::Ok();
}

}  // namespace cnet::service
