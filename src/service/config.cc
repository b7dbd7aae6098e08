#include "service/config.h"

#include "common/csv.h"
#include "model/yaml_util.h"
#include "sched/estimate/shift_yaml.h"
#include "service/site_attributes.h"
#include "service/economics_config.h"

namespace cnet::service {

const std::set<std::string>& SharedSiteKeys() {
  static const std::set<std::string> keys{"name", "type", "region", "power_cap_kw", "device_env",
                                          "inventory_interval_s", "redispatch_after_s",
                                          "redispatch_unconfirmed_after_s", "queue_ahead", "attributes",
                                          "price_per_hour_usd", "carbon", "tariff_usd_per_kwh", "power_budget"};
  return keys;
}

SiteConfig DefaultLocalSite() {
  SiteConfig s;
  s.block = YAML::Load("{name: local, type: local}");
  s.attributes["region"] = s.region;
  s.where = "(embedded default): sites[0]";
  return s;
}

ServiceConfig DefaultConfig() {
  ServiceConfig c;
  c.sites.push_back(DefaultLocalSite());
  return c;
}

namespace {

// The keys every site shares; the backend checks the rest of the block.
Result<SiteConfig> ParseSite(const YamlCtx& c, const YAML::Node& n, const std::string& p) {
  if (!n.IsMap()) return c.Error(n, p, "expected a mapping");
  SiteConfig s;
  const std::string empty;
  CNET_ASSIGN_OR_RETURN(s.name, YamlString(c, n, "name", p));
  CNET_ASSIGN_OR_RETURN(s.type, YamlString(c, n, "type", p, &s.type));
  CNET_ASSIGN_OR_RETURN(s.region, YamlString(c, n, "region", p, &s.region));
  CNET_ASSIGN_OR_RETURN(s.power_cap_kw, YamlDouble(c, n, "power_cap_kw", p, &s.power_cap_kw));
  if (s.power_cap_kw <= 0) return c.Error(n["power_cap_kw"], p + ".power_cap_kw", "must be > 0");
  CNET_ASSIGN_OR_RETURN(s.power_budget, ParsePowerBudget(c, n, p));
  CNET_ASSIGN_OR_RETURN(s.device_env, YamlString(c, n, "device_env", p, &empty));
  if (!s.device_env.empty() && s.device_env != "CUDA_VISIBLE_DEVICES" && s.device_env != "ASCEND_RT_VISIBLE_DEVICES" &&
      s.device_env != "ROCR_VISIBLE_DEVICES")
    return c.Error(n["device_env"], p + ".device_env",
                   "must be CUDA_VISIBLE_DEVICES, ASCEND_RT_VISIBLE_DEVICES or ROCR_VISIBLE_DEVICES");
  CNET_ASSIGN_OR_RETURN(s.inventory_interval_s, YamlDouble(c, n, "inventory_interval_s", p, &s.inventory_interval_s));
  if (s.inventory_interval_s < 0.1 || s.inventory_interval_s > 3600)
    return c.Error(n["inventory_interval_s"], p + ".inventory_interval_s", "must be between 0.1 and 3600");
  CNET_ASSIGN_OR_RETURN(s.redispatch_after_s, YamlDouble(c, n, "redispatch_after_s", p, &s.redispatch_after_s));
  if (s.redispatch_after_s < 0 || s.redispatch_after_s > 30 * 86400)
    return c.Error(n["redispatch_after_s"], p + ".redispatch_after_s", "must be between 0 (never) and 2592000");
  CNET_ASSIGN_OR_RETURN(s.redispatch_unconfirmed_after_s,
                        YamlDouble(c, n, "redispatch_unconfirmed_after_s", p, &s.redispatch_unconfirmed_after_s));
  if (s.redispatch_unconfirmed_after_s < 0 || s.redispatch_unconfirmed_after_s > 30 * 86400)
    return c.Error(n["redispatch_unconfirmed_after_s"], p + ".redispatch_unconfirmed_after_s",
                   "must be between 0 (as redispatch_after_s) and 2592000");
  const int64_t no_ahead = 0;
  CNET_ASSIGN_OR_RETURN(const int64_t ahead, YamlInt(c, n, "queue_ahead", p, &no_ahead));
  if (ahead < 0 || ahead > 10000)
    return c.Error(n["queue_ahead"], p + ".queue_ahead", "must be between 0 (off) and 10000");
  s.queue_ahead = static_cast<int>(ahead);
  CNET_ASSIGN_OR_RETURN(s.attributes, ParseSiteAttributes(c, n, p, s.region));
  s.block = n;
  s.where = c.file + ":" + std::to_string(n.Mark().line + 1) + ": " + p;
  s.file = c.file;
  s.path = p;
  return s;
}

// allowed_hosts and metrics_listen.
Status LoadAccessKeys(const YamlCtx& c, const YAML::Node& root, ServiceConfig& cfg) {
  if (root["allowed_hosts"]) {
    CNET_ASSIGN_OR_RETURN(YAML::Node hs, YamlSeq(c, root, "allowed_hosts", ""));
    for (size_t i = 0; i < hs.size(); ++i) {
      if (!hs[i].IsScalar() || hs[i].Scalar().empty())
        return c.Error(hs[i], "allowed_hosts[" + std::to_string(i) + "]", "expected a host name, an address or *");
      cfg.allowed_hosts.push_back(hs[i].Scalar());
    }
  }
  if (root["metrics_listen"]) {
    CNET_ASSIGN_OR_RETURN(cfg.metrics_listen, YamlString(c, root, "metrics_listen", ""));
    std::string h;
    int p = 0;
    if (Status st = ParseAddr(cfg.metrics_listen, &h, &p); !st.ok())
      return c.Error(root["metrics_listen"], "metrics_listen", "expected HOST:PORT, got '" + cfg.metrics_listen + "'");
  }
  return Status::Ok();
}

// The bounded-request keys (api/http_limits.h) and TLS files.
Status ParseHttpKeys(const YamlCtx& c, const YAML::Node& root, ServiceConfig* cfg) {
  api::HttpLimits& h = cfg->http;
  int64_t conns = h.max_connections, per = h.max_connections_per_client, list = static_cast<int64_t>(h.max_list_bytes);
  CNET_ASSIGN_OR_RETURN(conns, YamlInt(c, root, "max_connections", "", &conns));
  if (conns < 1 || conns > 100000) return c.Error(root["max_connections"], "max_connections", "must be between 1 and 100000");
  CNET_ASSIGN_OR_RETURN(per, YamlInt(c, root, "max_connections_per_client", "", &per));
  if (per < 1 || per > conns)
    return c.Error(root["max_connections_per_client"], "max_connections_per_client", "must be between 1 and max_connections");
  CNET_ASSIGN_OR_RETURN(h.request_deadline_s, YamlDouble(c, root, "request_deadline_s", "", &h.request_deadline_s));
  if (!(h.request_deadline_s >= 0.1 && h.request_deadline_s <= 3600))
    return c.Error(root["request_deadline_s"], "request_deadline_s", "must be between 0.1 and 3600");
  CNET_ASSIGN_OR_RETURN(list, YamlInt(c, root, "max_list_bytes", "", &list));
  if (list < 1024 || list > (256 << 20)) return c.Error(root["max_list_bytes"], "max_list_bytes", "must be between 1024 and 268435456");
  h.max_connections = static_cast<int>(conns);
  h.max_connections_per_client = static_cast<int>(per);
  h.max_list_bytes = static_cast<size_t>(list);
  const std::string none;
  CNET_ASSIGN_OR_RETURN(cfg->tls.cert_file, YamlString(c, root, "tls_cert", "", &none));
  CNET_ASSIGN_OR_RETURN(cfg->tls.key_file, YamlString(c, root, "tls_key", "", &none));
  if (cfg->tls.cert_file.empty() != cfg->tls.key_file.empty())
    return c.Error(root[cfg->tls.cert_file.empty() ? "tls_key" : "tls_cert"], cfg->tls.cert_file.empty() ? "tls_cert" : "tls_key",
                   "give both tls_cert and tls_key, or neither");
  return Status::Ok();
}

}  // namespace

Status ParseAddr(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return InvalidArgument("--addr: expected HOST:PORT, got '" + addr + "'");
  auto p = ParseInt(addr.substr(colon + 1));
  if (!p || *p < 0 || *p > 65535) return InvalidArgument("--addr: bad port in '" + addr + "'");
  *host = addr.substr(0, colon);
  *port = static_cast<int>(*p);
  return Status::Ok();
}

Result<ServiceConfig> LoadConfig(const std::string& path) {
  CNET_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  YamlCtx c{path};
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, root, {"addr", "data", "policy", "catalogue", "catalogue_extensions", "throughputs",
                                              "cycle_interval_s", "round_s", "restore_s", "temporal_shift", "http_threads", "max_body_bytes", "integrity_check_s",
                                              "max_connections", "max_connections_per_client",
                                              "request_deadline_s", "max_list_bytes", "tls_cert", "tls_key",
                                              "sites", "tenants", "allowed_hosts", "metrics_listen", "network", "max_array_size"}, ""));
  ServiceConfig cfg;
  const std::string empty;
  if (root["addr"]) {
    CNET_ASSIGN_OR_RETURN(std::string a, YamlString(c, root, "addr", ""));
    Status st = ParseAddr(a, &cfg.host, &cfg.port);
    if (!st.ok()) return c.Error(root["addr"], "addr", st.message());
  }
  CNET_ASSIGN_OR_RETURN(cfg.data_dir, YamlString(c, root, "data", "", &cfg.data_dir));
  CNET_ASSIGN_OR_RETURN(cfg.policy, YamlString(c, root, "policy", "", &cfg.policy));
  CNET_ASSIGN_OR_RETURN(cfg.catalogue, YamlString(c, root, "catalogue", "", &empty));
  if (root["catalogue_extensions"]) {
    CNET_ASSIGN_OR_RETURN(YAML::Node ext, YamlSeq(c, root, "catalogue_extensions", ""));
    for (const auto& e : ext) {
      if (!e.IsScalar() || e.Scalar().empty()) return c.Error(e, "catalogue_extensions", "expected a list of file paths");
      cfg.catalogue_extensions.push_back(e.Scalar());
    }
  }
  CNET_ASSIGN_OR_RETURN(cfg.throughputs, YamlString(c, root, "throughputs", "", &empty));
  {
    int64_t n = cfg.limits.max_array_size;
    CNET_ASSIGN_OR_RETURN(n, YamlInt(c, root, "max_array_size", "", &n));
    if (n < 1 || n > 1000000) return c.Error(root["max_array_size"], "max_array_size", "must be between 1 and 1000000");
    cfg.limits.max_array_size = static_cast<int>(n);
  }
  CNET_ASSIGN_OR_RETURN(cfg.cycle_interval_s, YamlDouble(c, root, "cycle_interval_s", "", &cfg.cycle_interval_s));
  if (cfg.cycle_interval_s < 0.001 || cfg.cycle_interval_s > 60)
    return c.Error(root["cycle_interval_s"], "cycle_interval_s", "must be between 0.001 and 60");
  CNET_ASSIGN_OR_RETURN(cfg.round_s, YamlDouble(c, root, "round_s", "", &cfg.round_s));
  if (cfg.round_s < 1 || cfg.round_s > 86400) return c.Error(root["round_s"], "round_s", "must be between 1 and 86400 seconds");
  CNET_ASSIGN_OR_RETURN(cfg.restore_s, YamlDouble(c, root, "restore_s", "", &cfg.restore_s));
  if (cfg.restore_s < 0 || cfg.restore_s > 86400)
    return c.Error(root["restore_s"], "restore_s", "must be between 0 and 86400 seconds");
  if (root["temporal_shift"]) {
    CNET_ASSIGN_OR_RETURN(ShiftOptions o, ParseShiftOptions(c, root["temporal_shift"], "temporal_shift"));
    cfg.temporal_shift = o;
  }
  CNET_ASSIGN_OR_RETURN(cfg.integrity_check_s, YamlDouble(c, root, "integrity_check_s", "", &cfg.integrity_check_s));
  if (cfg.integrity_check_s < 0 || cfg.integrity_check_s > 86400)
    return c.Error(root["integrity_check_s"], "integrity_check_s", "must be between 0 (no check) and 86400 seconds");
  int64_t threads = cfg.http_threads;
  CNET_ASSIGN_OR_RETURN(threads, YamlInt(c, root, "http_threads", "", &threads));
  if (threads < 1 || threads > 256) return c.Error(root["http_threads"], "http_threads", "must be between 1 and 256");
  cfg.http_threads = static_cast<int>(threads);
  int64_t body = static_cast<int64_t>(cfg.limits.max_body_bytes);
  CNET_ASSIGN_OR_RETURN(body, YamlInt(c, root, "max_body_bytes", "", &body));
  if (body < 1024 || body > (64 << 20)) return c.Error(root["max_body_bytes"], "max_body_bytes", "must be between 1024 and 67108864");
  cfg.limits.max_body_bytes = static_cast<size_t>(body);
  CNET_RETURN_IF_ERROR(LoadAccessKeys(c, root, cfg));
  CNET_RETURN_IF_ERROR(ParseHttpKeys(c, root, &cfg));
  if (root["sites"]) {
    CNET_ASSIGN_OR_RETURN(YAML::Node sites, YamlSeq(c, root, "sites", ""));
    for (size_t i = 0; i < sites.size(); ++i) {
      CNET_ASSIGN_OR_RETURN(SiteConfig s, ParseSite(c, sites[i], "sites[" + std::to_string(i) + "]"));
      for (const auto& o : cfg.sites)
        if (o.name == s.name) return c.Error(sites[i]["name"], "sites[" + std::to_string(i) + "].name", "duplicate site name");
      cfg.sites.push_back(std::move(s));
    }
    int locals = 0;
    for (const auto& s : cfg.sites) locals += s.type == "local";
    if (locals > 1) return c.Error(sites, "sites", "at most one local site per service");
  }
  if (cfg.sites.empty()) cfg.sites.push_back(DefaultLocalSite());
  CNET_RETURN_IF_ERROR(LoadEconomicsKeys(c, root, &cfg));
  if (root["tenants"]) {
    CNET_ASSIGN_OR_RETURN(YAML::Node ts, YamlSeq(c, root, "tenants", ""));
    for (size_t i = 0; i < ts.size(); ++i) {
      const YAML::Node& n = ts[i];
      std::string p = "tenants[" + std::to_string(i) + "]";
      CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, n, {"name", "max_accelerators", "max_queued_jobs", "unix_user", "objective"}, p));
      TenantConfig t;
      CNET_ASSIGN_OR_RETURN(t.name, YamlString(c, n, "name", p));
      CNET_ASSIGN_OR_RETURN(t.unix_user, YamlString(c, n, "unix_user", p, &t.unix_user));
      const std::string fastest = "fastest";
      CNET_ASSIGN_OR_RETURN(std::string obj, YamlString(c, n, "objective", p, &fastest));
      if (!ParseObjective(obj) || obj == "budget")  // a budget is per job
        return c.Error(n["objective"], p + ".objective", "expected fastest or cheapest, got '" + obj + "'");
      t.objective = *ParseObjective(obj);
      int64_t q = 0;
      CNET_ASSIGN_OR_RETURN(q, YamlInt(c, n, "max_queued_jobs", p, &q));
      if (q < 0) return c.Error(n["max_queued_jobs"], p + ".max_queued_jobs", "must be >= 0");
      t.max_queued_jobs = static_cast<int>(q);
      if (n["max_accelerators"]) {
        const YAML::Node& m = n["max_accelerators"];
        if (!m.IsMap()) return c.Error(m, p + ".max_accelerators", "expected a mapping of type: count");
        for (auto it = m.begin(); it != m.end(); ++it) {
          auto v = ParseInt(it->second.IsScalar() ? it->second.Scalar() : "");
          if (!v || *v < 0) return c.Error(it->second, p + ".max_accelerators." + it->first.Scalar(), "must be an integer >= 0");
          t.max_accelerators[it->first.Scalar()] = static_cast<int>(*v);
        }
      }
      cfg.tenants.push_back(t);
    }
  }
  return cfg;
}

}  // namespace cnet::service
