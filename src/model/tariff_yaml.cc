#include "model/tariff_yaml.h"

#include "common/strings.h"

namespace cnet {

Result<Tariff> ParseTariff(const YamlCtx& c, const YAML::Node& n, const std::string& path) {
  std::vector<double> prices;
  if (n.IsScalar()) {
    std::optional<double> d = ParseDouble(n.Scalar());
    if (!d) return c.Error(n, path, "expected a price per kWh or a list of 24");
    prices.push_back(*d);
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      std::optional<double> d = n[i].IsScalar() ? ParseDouble(n[i].Scalar()) : std::nullopt;
      if (!d) return c.Error(n[i], path + "[" + std::to_string(i) + "]", "expected a number");
      prices.push_back(*d);
    }
  } else {
    return c.Error(n, path, "expected a price per kWh or a list of 24");
  }
  auto t = Tariff::FromPrices(std::move(prices));
  if (!t.ok()) return c.Error(n, path, t.status().message());
  return std::move(t).value();
}

}  // namespace cnet
