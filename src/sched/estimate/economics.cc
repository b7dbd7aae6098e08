#include "sched/estimate/economics.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"

namespace cnet {

double SiteEconomics::PriceUsdPerHour(const Catalogue& cat, const std::string& site, AccelId a) const {
  if (auto it = price_.find({site, a.value()}); it != price_.end()) return it->second;
  if (auto it = price_.find({site, -1}); it != price_.end()) return it->second;
  return cat.Get(a).price_per_hour_usd;
}

Link SiteEconomics::LinkBetween(const std::string& from, const std::string& to) const {
  if (from == to) return Link{0, 0, 0};
  if (auto it = links_.find({from, to}); it != links_.end()) return it->second;
  return default_link_;
}

Seconds SiteEconomics::TransferSeconds(const std::string& from, const std::string& to, double bytes) const {
  if (from == to || bytes <= 0) return 0;
  Link l = LinkBetween(from, to);
  return l.latency_s + bytes * 8 / (l.bandwidth_gbps * 1e9);
}

double SiteEconomics::EgressUsd(const std::string& from, const std::string& to, double bytes) const {
  if (from == to || bytes <= 0) return 0;
  return LinkBetween(from, to).egress_usd_per_gb * bytes / 1e9;
}

void SiteEconomics::AddPrice(const std::string& site, const std::string& type, double usd, const std::string& where) {
  entries_.push_back(PriceEntry{site, type, where, usd});
}

Status SiteEconomics::Resolve(const Catalogue& cat) {
  price_.clear();
  for (const PriceEntry& e : entries_) {
    int key = -1;
    if (e.type != "*") {
      std::optional<AccelId> a = cat.Find(e.type);
      if (!a) return InvalidArgument(e.where + ": unknown accelerator type '" + e.type + "'");
      key = a->value();
    }
    price_[{e.site, key}] = e.usd;
  }
  return Status::Ok();
}

Status YamlErrorAt(const YamlCtx& c, const YAML::Node& n, const std::string& path, const std::string& msg) {
  const auto m = n.Mark();
  return InvalidArgument(c.file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": field '" +
                         path + "': " + msg);
}

namespace {

std::string WhereOf(const YamlCtx& c, const YAML::Node& n, const std::string& path) {
  const auto m = n.Mark();
  return c.file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": field '" + path + "'";
}

// A finite number within [lo, hi] at n.
Result<double> Number(const YamlCtx& c, const YAML::Node& n, const std::string& path, double lo, double hi) {
  std::optional<double> v = n.IsScalar() ? ParseDouble(n.Scalar()) : std::nullopt;
  if (!v) return YamlErrorAt(c, n, path, "expected a number");
  if (!(*v >= lo && *v <= hi))
    return YamlErrorAt(c, n, path, "must be between " + FormatNumber("%g", lo) + " and " + FormatNumber("%g", hi));
  return *v;
}

Result<double> OptionalNumber(const YamlCtx& c, const YAML::Node& map, const std::string& key, const std::string& path,
                              double def, double lo, double hi) {
  if (!map[key]) return def;
  return Number(c, map[key], path + "." + key, lo, hi);
}

constexpr double kMaxPrice = 1e6;  // USD per package-hour

Result<Link> ParseLink(const YamlCtx& c, const YAML::Node& n, const std::string& path, Link def,
                       const std::vector<std::string>& extra_keys) {
  if (!n.IsMap()) return YamlErrorAt(c, n, path, "expected a mapping");
  std::vector<std::string> keys{"bandwidth_gbps", "latency_ms", "egress_usd_per_gb"};
  keys.insert(keys.end(), extra_keys.begin(), extra_keys.end());
  for (auto it = n.begin(); it != n.end(); ++it)
    if (std::find(keys.begin(), keys.end(), it->first.Scalar()) == keys.end())
      return YamlErrorAt(c, it->first, path + "." + it->first.Scalar(), "unknown key");
  Link l = def;
  CNET_ASSIGN_OR_RETURN(l.bandwidth_gbps, OptionalNumber(c, n, "bandwidth_gbps", path, def.bandwidth_gbps, 1e-6, 1e6));
  CNET_ASSIGN_OR_RETURN(double ms, OptionalNumber(c, n, "latency_ms", path, def.latency_s * 1000, 0, 1e6));
  l.latency_s = ms / 1000;
  CNET_ASSIGN_OR_RETURN(l.egress_usd_per_gb, OptionalNumber(c, n, "egress_usd_per_gb", path, def.egress_usd_per_gb, 0, 1e3));
  return l;
}

Result<std::string> SiteName(const YamlCtx& c, const YAML::Node& map, const std::string& key, const std::string& path,
                             const std::vector<std::string>& sites) {
  const YAML::Node v = map[key];
  if (!v) return YamlErrorAt(c, map, path + "." + key, "required");
  if (!v.IsScalar()) return YamlErrorAt(c, v, path + "." + key, "expected a site name");
  if (std::find(sites.begin(), sites.end(), v.Scalar()) == sites.end())
    return YamlErrorAt(c, v, path + "." + key, "unknown site '" + v.Scalar() + "'");
  return v.Scalar();
}

}  // namespace

Status ParseSitePrices(const YamlCtx& c, const YAML::Node& v, const std::string& path, const std::string& site,
                       SiteEconomics* out) {
  if (v.IsScalar()) {
    CNET_ASSIGN_OR_RETURN(double usd, Number(c, v, path, 0, kMaxPrice));
    out->AddPrice(site, "*", usd, WhereOf(c, v, path));
    return Status::Ok();
  }
  if (!v.IsMap()) return YamlErrorAt(c, v, path, "expected a number or a mapping of accelerator type: price");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string type = it->first.Scalar();
    const std::string p = path + "." + type;
    if (type.empty()) return YamlErrorAt(c, it->first, p, "expected an accelerator type or '*'");
    CNET_ASSIGN_OR_RETURN(double usd, Number(c, it->second, p, 0, kMaxPrice));
    out->AddPrice(site, type, usd, WhereOf(c, it->second, p));
  }
  return Status::Ok();
}

Status ParseNetwork(const YamlCtx& c, const YAML::Node& n, const std::string& path,
                    const std::vector<std::string>& sites, SiteEconomics* out) {
  if (!n.IsMap()) return YamlErrorAt(c, n, path, "expected a mapping with default and links");
  for (auto it = n.begin(); it != n.end(); ++it)
    if (it->first.Scalar() != "default" && it->first.Scalar() != "links")
      return YamlErrorAt(c, it->first, path + "." + it->first.Scalar(), "unknown key (expected default or links)");
  Link def;
  if (n["default"]) {
    CNET_ASSIGN_OR_RETURN(def, ParseLink(c, n["default"], path + ".default", Link{}, {}));
  }
  out->SetDefaultLink(def);
  if (!n["links"]) return Status::Ok();
  const YAML::Node links = n["links"];
  if (!links.IsSequence()) return YamlErrorAt(c, links, path + ".links", "expected a list");
  std::map<std::pair<std::string, std::string>, std::string> seen;
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string p = path + ".links[" + std::to_string(i) + "]";
    const YAML::Node l = links[i];
    CNET_ASSIGN_OR_RETURN(Link link, ParseLink(c, l, p, def, {"from", "to", "symmetric"}));
    CNET_ASSIGN_OR_RETURN(std::string from, SiteName(c, l, "from", p, sites));
    CNET_ASSIGN_OR_RETURN(std::string to, SiteName(c, l, "to", p, sites));
    if (from == to) return YamlErrorAt(c, l["to"], p + ".to", "a link joins two different sites");
    bool symmetric = true;
    if (l["symmetric"]) {
      const std::string s = l["symmetric"].IsScalar() ? l["symmetric"].Scalar() : "";
      if (s != "true" && s != "false") return YamlErrorAt(c, l["symmetric"], p + ".symmetric", "expected true or false");
      symmetric = s == "true";
    }
    std::vector<std::pair<std::string, std::string>> pairs{{from, to}};
    if (symmetric) pairs.emplace_back(to, from);
    for (const auto& pr : pairs) {
      if (auto it = seen.find(pr); it != seen.end())
        return YamlErrorAt(c, l, p, "link " + pr.first + " -> " + pr.second + " is already given by " + it->second);
      seen[pr] = p;
      out->SetLink(pr.first, pr.second, link);
    }
  }
  return Status::Ok();
}

Result<SiteEconomics> LoadEconomicsFile(const std::string& path, const std::vector<std::string>& sites,
                                        const Catalogue& cat) {
  CNET_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  YamlCtx c{path};
  if (!root.IsMap()) return YamlErrorAt(c, root, "", "expected a mapping with prices and network");
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, root, {"prices", "network"}, ""));
  SiteEconomics e;
  if (root["prices"]) {
    const YAML::Node ps = root["prices"];
    if (!ps.IsMap()) return YamlErrorAt(c, ps, "prices", "expected a mapping of site: price");
    for (auto it = ps.begin(); it != ps.end(); ++it) {
      const std::string site = it->first.Scalar();
      if (std::find(sites.begin(), sites.end(), site) == sites.end())
        return YamlErrorAt(c, it->first, "prices." + site, "unknown site '" + site + "'");
      CNET_RETURN_IF_ERROR(ParseSitePrices(c, it->second, "prices." + site, site, &e));
    }
  }
  if (root["network"]) CNET_RETURN_IF_ERROR(ParseNetwork(c, root["network"], "network", sites, &e));
  CNET_RETURN_IF_ERROR(e.Resolve(cat));
  return e;
}

}  // namespace cnet
