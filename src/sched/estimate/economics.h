// Site economics: the price of an accelerator-hour at each site (per type, or one price for every
// type) and the network between sites (bandwidth, latency, egress price per site pair). The
// candidate estimates (estimate/candidates.h) and the objective scorers
// (placement/scorers/objective.h) price a placement with it. Board power per type is not here: it
// is the catalogue's (AcceleratorSpec::board_power_w).
// Units: prices in USD per package-hour, bandwidth in Gb/s (10^9 bits/s), latency in seconds,
// egress in USD per GB (10^9 bytes) leaving the source site.
// Built once (parsing, then Resolve against the catalogue), then immutable: share by const
// reference or shared_ptr<const>; every const method is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "common/units.h"
#include "model/accelerator.h"
#include "model/yaml_util.h"

namespace cnet {

class SiteCarbon;  // estimate/site_carbon.h

struct Link {
  double bandwidth_gbps = 10;
  Seconds latency_s = 0;
  double egress_usd_per_gb = 0;
};

class SiteEconomics {
 public:
  // Price of one package-hour of type `a` at `site`: the site's price for that type, else the
  // site's price for every type, else the catalogue's price_per_hour_usd.
  double PriceUsdPerHour(const Catalogue& cat, const std::string& site, AccelId a) const;
  // The link from -> to: the listed pair, else the default. from == to: local (no time, free).
  Link LinkBetween(const std::string& from, const std::string& to) const;
  // Seconds to move `bytes` from -> to (latency + bytes * 8 / bandwidth); 0 for 0 bytes or one site.
  Seconds TransferSeconds(const std::string& from, const std::string& to, double bytes) const;
  // Dollars to move `bytes` out of `from` into `to` (0 within one site).
  double EgressUsd(const std::string& from, const std::string& to, double bytes) const;

  // Building. `type` is a catalogue name or alias, or "*" for every type at the site; `where`
  // ("file:line:col") names the entry in Resolve's errors.
  void AddPrice(const std::string& site, const std::string& type, double usd, const std::string& where);
  void SetDefaultLink(const Link& l) { default_link_ = l; }
  void SetLink(const std::string& from, const std::string& to, const Link& l) { links_[{from, to}] = l; }
  // Turns type names into catalogue ids; InvalidArgument naming the entry for an unknown type.
  Status Resolve(const Catalogue& cat);
  // Carbon signals and tariffs per site (docs/energy.md); null: none (greenest then sees every site
  // at the default intensity, and cost has no energy term).
  void SetCarbon(std::shared_ptr<const SiteCarbon> c) { carbon_ = std::move(c); }
  const SiteCarbon* carbon() const { return carbon_.get(); }

 private:
  struct PriceEntry {
    std::string site, type, where;
    double usd = 0;
  };
  std::vector<PriceEntry> entries_;
  std::map<std::pair<std::string, int>, double> price_;  // (site, AccelId value or -1 for '*')
  std::map<std::pair<std::string, std::string>, Link> links_;
  Link default_link_;
  std::shared_ptr<const SiteCarbon> carbon_;
};

// "file:line:col: field 'path': msg" at node n (1-based line and column).
Status YamlErrorAt(const YamlCtx& c, const YAML::Node& n, const std::string& path, const std::string& msg);

// A site's `price_per_hour_usd`: a number (every type) or a mapping type -> number ('*' = every
// other type). Errors name the file, line, column and field `path`.
Status ParseSitePrices(const YamlCtx& c, const YAML::Node& v, const std::string& path, const std::string& site,
                       SiteEconomics* out);
// The `network:` block (docs/formats.md "Site economics"): `default:` and `links:` (from, to,
// bandwidth_gbps, latency_ms, egress_usd_per_gb, symmetric). Sites must be among `sites`.
Status ParseNetwork(const YamlCtx& c, const YAML::Node& n, const std::string& path,
                    const std::vector<std::string>& sites, SiteEconomics* out);
// A standalone economics file for the simulator: `prices: {site: price-or-mapping}` and `network:`;
// sites must be among `sites`. Resolved against `cat`.
Result<SiteEconomics> LoadEconomicsFile(const std::string& path, const std::vector<std::string>& sites,
                                        const Catalogue& cat);

}  // namespace cnet
