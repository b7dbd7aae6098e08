#include "api/power_routes.h"

#include "api/routes.h"
#include "service/wait_reasons.h"

namespace cnet::api {

using nlohmann::json;
using Req = httplib::Request;
using Res = httplib::Response;

namespace {

// A daily window's ends as "HH:MM:SS UTC", a dated one's as epoch seconds.
json WindowJson(const service::BudgetWindow& w) {
  auto end = [&](double t) { return w.daily ? json(service::UtcClock(t)) : json(t); };
  return json{{"daily", w.daily}, {"from", end(w.from)}, {"to", end(w.to)}, {"kw", w.kw}, {"reason", w.reason}};
}

json SiteJson(const service::PowerBudgets::SiteView& v) {
  json windows = json::array();
  for (const auto& w : v.windows) windows.push_back(WindowJson(w));
  json in_force = v.in_force ? json{{"kw", v.in_force->kw}, {"why", v.in_force->why}} : json(nullptr);
  return json{{"site", v.site},
              {"cap_kw", v.cap_kw},
              {"override_kw", v.override_kw ? json(*v.override_kw) : json(nullptr)},
              {"override_reason", v.override_reason},
              {"windows", windows},
              {"in_force", in_force}};
}

}  // namespace

void GetPower(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  if (!req.params.empty()) return SendError(res, InvalidArgument(req.params.begin()->first.substr(0, 64) + ": unknown query parameter"));
  auto r = svc.PowerBudgetView(c);
  if (!r.ok()) return SendError(res, r.status());
  json out{{"sites", json::array()}};
  for (const auto& v : *r) out["sites"].push_back(SiteJson(v));
  SendJson(res, 200, out);
}

void PutPowerBudget(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  if (!c.admin) return SendError(res, PermissionDenied("admin role required"));
  if (req.body.size() > 4096) return SendError(res, InvalidArgument("body: larger than 4096 bytes"));
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object()) return SendError(res, InvalidArgument("body: expected a JSON object {\"kw\": N, \"reason\": \"...\"}"));
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "kw" && it.key() != "reason") return SendError(res, InvalidArgument(it.key().substr(0, 64) + ": unknown field"));
  if (!b.contains("kw") || !b["kw"].is_number()) return SendError(res, InvalidArgument("kw: a number of kilowatts >= 0"));
  if (b.contains("reason") && !b["reason"].is_string()) return SendError(res, InvalidArgument("reason: a string"));
  const std::string reason = b.value("reason", "");
  if (reason.size() > 200) return SendError(res, InvalidArgument("reason: at most 200 characters"));
  auto r = svc.SetPowerBudget(c, req.matches[1], b["kw"].get<double>(), reason);
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, SiteJson(*r));
}

void DeletePowerBudget(service::Service& svc, const service::Caller& c, const Req& req, Res& res) {
  auto r = svc.SetPowerBudget(c, req.matches[1], std::nullopt, "");
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, SiteJson(*r));
}

}  // namespace cnet::api
