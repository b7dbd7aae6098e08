#include "api/dataset_routes.h"

#include "api/routes.h"
#include "common/strings.h"

namespace cnet::api {

using nlohmann::json;
using Req = httplib::Request;
using Res = httplib::Response;

namespace {

json GrantJson(const store::GrantRow& g) {
  return json{{"dataset", g.dataset}, {"tenant", g.tenant}, {"policy", g.policy.empty() ? json(nullptr) : json(g.policy)},
              {"created", g.created}};
}

json DatasetJson(const service::DatasetView& v) {
  const store::DatasetRow& d = v.row;
  json grants = json::array();
  for (const auto& g : v.grants) grants.push_back(GrantJson(g));
  return json{{"name", d.name},         {"owner", d.owner},     {"size_bytes", d.size_bytes},
              {"replicas", d.replicas}, {"policy", d.policy},   {"policy_version", d.policy_version},
              {"purposes", d.purposes}, {"expires", d.expires > 0 ? json(d.expires) : json(nullptr)},
              {"created", d.created},   {"updated", d.updated}, {"grants", grants}};
}

json AuditJson(const store::AuditRecord& r) {
  return json{{"seq", r.seq},       {"time", r.time},         {"actor", r.actor},
              {"action", r.action}, {"job", r.job ? json(r.job) : json(nullptr)},
              {"dataset", r.dataset}, {"site", r.site},       {"policy_version", r.policy_version},
              {"decision", r.decision}, {"reason", r.reason}, {"prev_hash", r.prev_hash},
              {"hash", r.hash}};
}

Result<json> Body(const Req& req) {
  if (req.body.size() > (1 << 16)) return InvalidArgument("body: larger than 65536 bytes");
  json b = json::parse(req.body, nullptr, false);
  if (b.is_discarded()) return InvalidArgument("body: not valid JSON");
  if (!b.is_object()) return InvalidArgument("body: expected a JSON object");
  return b;
}

Status OnlyKeys(const json& b, const std::set<std::string>& known) {
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!known.count(it.key())) return InvalidArgument(it.key().substr(0, 64) + ": unknown field");
  return Status::Ok();
}

Result<std::map<std::string, std::string>> Replicas(const json& v) {
  if (!v.is_object()) return InvalidArgument("replicas: expected a mapping of site: path");
  std::map<std::string, std::string> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_string()) return InvalidArgument("replicas." + it.key().substr(0, 64) + ": expected a path");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

template <typename T>
Result<T> Get(const json& b, const char* key) {
  try {
    return b.at(key).get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(std::string(key) + ": wrong type");
  }
}

void Reply(Res& res, int code, const Result<service::DatasetView>& r) {
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, code, DatasetJson(*r));
}

}  // namespace

void PostDataset(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  auto b = Body(req);
  if (!b.ok()) return SendError(res, b.status());
  if (Status s = OnlyKeys(*b, {"name", "size_bytes", "replicas", "policy", "purposes", "expires"}); !s.ok())
    return SendError(res, s);
  store::DatasetRow d;
  auto name = Get<std::string>(*b, "name");
  if (!name.ok()) return SendError(res, InvalidArgument("name: required, a string"));
  d.name = *name;
  if (b->contains("size_bytes")) {
    auto v = Get<int64_t>(*b, "size_bytes");
    if (!v.ok()) return SendError(res, v.status());
    d.size_bytes = *v;
  }
  if (b->contains("policy")) {
    auto v = Get<std::string>(*b, "policy");
    if (!v.ok()) return SendError(res, v.status());
    d.policy = *v;
  }
  if (b->contains("replicas")) {
    auto v = Replicas(b->at("replicas"));
    if (!v.ok()) return SendError(res, v.status());
    d.replicas = *v;
  }
  if (b->contains("purposes")) {
    auto v = Get<std::vector<std::string>>(*b, "purposes");
    if (!v.ok()) return SendError(res, v.status());
    d.purposes = *v;
  }
  if (b->contains("expires")) {
    auto v = Get<double>(*b, "expires");
    if (!v.ok()) return SendError(res, v.status());
    d.expires = *v;
  }
  Reply(res, 201, svc.datasets().Register(c, d));
}

void ListDatasets(service::Service& svc, const service::Caller& c, const Req&, Res& res) {
  auto r = svc.datasets().List(c);
  if (!r.ok()) return SendError(res, r.status());
  json out{{"datasets", json::array()}};
  for (const auto& v : *r) out["datasets"].push_back(DatasetJson(v));
  SendJson(res, 200, out);
}

void GetDataset(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  Reply(res, 200, svc.datasets().Show(c, req.matches[1]));
}

void PatchDataset(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  auto b = Body(req);
  if (!b.ok()) return SendError(res, b.status());
  if (Status s = OnlyKeys(*b, {"size_bytes", "replicas", "policy", "expires", "enforce_running"}); !s.ok())
    return SendError(res, s);
  service::DatasetUpdate u;
  if (b->contains("policy")) {
    auto v = Get<std::string>(*b, "policy");
    if (!v.ok()) return SendError(res, v.status());
    u.policy = *v;
  }
  if (b->contains("replicas")) {
    auto v = Replicas(b->at("replicas"));
    if (!v.ok()) return SendError(res, v.status());
    u.replicas = *v;
  }
  if (b->contains("size_bytes")) {
    auto v = Get<int64_t>(*b, "size_bytes");
    if (!v.ok()) return SendError(res, v.status());
    u.size_bytes = *v;
  }
  if (b->contains("expires")) {
    auto v = Get<double>(*b, "expires");
    if (!v.ok()) return SendError(res, v.status());
    u.expires = *v;
  }
  if (b->contains("enforce_running")) {
    auto v = Get<bool>(*b, "enforce_running");
    if (!v.ok()) return SendError(res, v.status());
    u.enforce_running = *v;
  }
  Reply(res, 200, svc.datasets().Update(c, req.matches[1], u));
}

// ?enforce_running=true|false (default false); anything else is a 400 naming the parameter.
static Result<bool> EnforceParam(const Req& req) {
  if (!req.has_param("enforce_running")) return false;
  const std::string v = req.get_param_value("enforce_running");
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return InvalidArgument("enforce_running: expected true or false, got '" + v + "'");
}

void DeleteDataset(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  auto enforce = EnforceParam(req);
  if (!enforce.ok()) return SendError(res, enforce.status());
  Status s = svc.datasets().Remove(c, req.matches[1], *enforce);
  if (!s.ok()) return SendError(res, s);
  SendJson(res, 200, {{"removed", std::string(req.matches[1])}});
}

void PutGrant(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  std::string policy;
  if (!req.body.empty()) {
    auto b = Body(req);
    if (!b.ok()) return SendError(res, b.status());
    if (Status s = OnlyKeys(*b, {"policy"}); !s.ok()) return SendError(res, s);
    if (b->contains("policy") && !b->at("policy").is_null()) {
      auto v = Get<std::string>(*b, "policy");
      if (!v.ok()) return SendError(res, v.status());
      policy = *v;
    }
  }
  auto g = svc.datasets().Grant(c, req.matches[1], req.matches[2], policy);
  if (!g.ok()) return SendError(res, g.status());
  SendJson(res, 200, GrantJson(*g));
}

void DeleteGrant(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  auto enforce = EnforceParam(req);
  if (!enforce.ok()) return SendError(res, enforce.status());
  Status s = svc.datasets().Revoke(c, req.matches[1], req.matches[2], *enforce);
  if (!s.ok()) return SendError(res, s);
  SendJson(res, 200, {{"dataset", std::string(req.matches[1])}, {"revoked", std::string(req.matches[2])}});
}

void GetDatasetAudit(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  int64_t after = 0, limit = 100;
  for (const auto& [k, v] : req.params) {
    auto n = ParseInt(v);
    if ((k != "after" && k != "limit") || !n || *n < 0) return SendError(res, InvalidArgument(k.substr(0, 64) + ": bad query parameter"));
    (k == "after" ? after : limit) = *n;
  }
  auto r = svc.datasets().Audit(c, req.matches[1], after, static_cast<int>(std::min<int64_t>(limit, 1000)));
  if (!r.ok()) return SendError(res, r.status());
  json out{{"records", json::array()}};
  for (const auto& a : *r) out["records"].push_back(AuditJson(a));
  SendJson(res, 200, out);
}

}  // namespace cnet::api
