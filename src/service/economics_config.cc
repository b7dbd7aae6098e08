#include "service/economics_config.h"

namespace cnet::service {

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
  cfg->economics = std::move(econ);
  return Status::Ok();
}

}  // namespace cnet::service
