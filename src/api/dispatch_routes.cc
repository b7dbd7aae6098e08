#include "api/dispatch_routes.h"

#include "api/routes.h"
#include "common/strings.h"

namespace cnet::api {

using nlohmann::json;

namespace {

json OrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json CandidateJson(const Candidate& c, bool chosen, const service::ExplainView& v) {
  json j{{"site", c.site_name}, {"accelerator", c.accel_name}, {"feasible", c.feasible()}, {"chosen", chosen},
         {"dispatched", !v.dispatched_site.empty() && c.site_name == v.dispatched_site && c.accel_name == v.dispatched_type}};
  if (!c.feasible()) {
    j["rejected"] = c.rejected;
    return j;
  }
  j["nodes"] = c.nodes;
  j["start"] = c.start_s;
  j["start_in_s"] = c.start_s - v.now;
  j["stage_in_s"] = c.stage_in_s;
  j["stage_in_bytes"] = c.stage_in_bytes;
  j["run_s"] = c.run_s;
  j["finish"] = c.finish_s;
  j["finish_in_s"] = c.finish_s - v.now;
  j["cost_usd"] = c.cost_usd;
  j["egress_usd"] = c.egress_usd;
  j["energy_kwh"] = c.energy_kwh;
  j["carbon_g"] = c.carbon_g;  // 0 without carbon signals (docs/energy.md)
  j["g_per_kwh"] = c.g_per_kwh;
  j["predicted_rate"] = c.predicted_rate;
  return j;
}

Result<double> TimeParam(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return 0.0;
  auto v = ParseDouble(req.get_param_value(key));
  if (!v || *v < 0) return InvalidArgument(std::string(key) + ": expected epoch seconds");
  return *v;
}

Result<service::Service::AcctQuery> Query(const httplib::Request& req) {
  service::Service::AcctQuery q;
  if (req.has_param("tenant")) q.tenant = req.get_param_value("tenant");
  if (req.has_param("state")) {
    auto s = store::ParseState(req.get_param_value("state"));
    if (!s) return InvalidArgument("state: unknown state '" + req.get_param_value("state") + "'");
    q.state = *s;
  }
  CNET_ASSIGN_OR_RETURN(q.since, TimeParam(req, "since"));
  CNET_ASSIGN_OR_RETURN(q.until, TimeParam(req, "until"));
  return q;
}

}  // namespace

json ExplainJson(const service::ExplainView& v) {
  json j{{"objective", v.objective}, {"deadline", OrNull(v.deadline)}, {"now", v.now}, {"candidates", json::array()}};
  if (v.job > 0) {
    j["id"] = v.job;
    j["state"] = v.state;
    j["site"] = v.dispatched_site;
    j["accelerator"] = v.dispatched_type;
  }
  if (v.objective == "budget") j["budget_usd"] = v.budget_usd;
  if (!v.note.empty()) j["note"] = v.note;
  if (!v.reason.empty()) j["reason"] = v.reason;
  for (size_t i = 0; i < v.candidates.size(); ++i)
    j["candidates"].push_back(CandidateJson(v.candidates[i], static_cast<int>(i) == v.chosen, v));
  if (v.shift) {
    json considered = json::array();
    for (const auto& c : v.shift->considered)
      considered.push_back({{"start", c.start_s}, {"carbon_g", c.g}, {"site", c.site}, {"accelerator", c.accel}});
    j["shift"] = {{"wait", v.shift->wait}, {"start", v.shift->start_s}, {"reason", v.shift->reason},
                  {"considered", considered}};
  }
  return j;
}

json AcctJson(const service::AcctRow& r) {
  return json{{"id", r.id},
              {"tenant", r.tenant},
              {"name", r.name},
              {"state", r.state},
              {"site", r.site},
              {"accelerator", r.type},
              {"packages", r.packages},
              {"submit", r.submit},
              {"start", r.start > 0 ? json(r.start) : json(nullptr)},
              {"end", r.end > 0 ? json(r.end) : json(nullptr)},
              {"elapsed_s", r.elapsed_s},
              {"accel_hours", r.accel_hours},
              {"cost_usd", r.cost_usd},
              {"energy_kwh", r.energy_kwh},
              {"energy_j", r.energy_j},
              {"energy_source", r.energy_source.empty() ? json(nullptr) : json(r.energy_source)},
              {"energy_estimated", r.energy_source == "estimated"},
              {"stage_in_bytes", r.stage_in_bytes},
              {"stage_in_s", r.stage_in_s},
              {"predicted_run_s", OrNull(r.predicted_run_s)},
              {"run_error", OrNull(r.run_error)}};
}

void GetExplain(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res) {
  auto id = ParseInt(req.matches[1]);
  if (!id || *id <= 0) return SendError(res, InvalidArgument("id: not a job id"));
  auto v = svc.Explain(c, *id);
  if (!v.ok()) return SendError(res, v.status());
  SendJson(res, 200, ExplainJson(*v));
}

void PostDryRun(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res) {
  const Limits& L = svc.config().limits;
  if (req.body.size() > L.max_body_bytes)
    return SendError(res, 413, "body: larger than " + std::to_string(L.max_body_bytes) + " bytes");
  auto fmt = FormatFromContentType(req.get_header_value("Content-Type"));
  if (!fmt) return SendError(res, 415, "Content-Type: use application/json or application/yaml");
  auto parsed = ParseJobRequest(req.body, *fmt, L);
  if (!parsed.ok()) return SendError(res, parsed.status());
  auto v = svc.DryRun(c, *parsed);
  if (!v.ok()) return SendError(res, v.status());
  SendJson(res, 200, ExplainJson(*v));
}

void GetAcct(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res) {
  auto q = Query(req);
  if (!q.ok()) return SendError(res, q.status());
  bool truncated = false;
  auto rows = svc.Acct(c, *q, &truncated);
  if (!rows.ok()) return SendError(res, rows.status());
  json j{{"jobs", json::array()}, {"truncated", truncated}};
  for (const auto& r : *rows) j["jobs"].push_back(AcctJson(r));
  const service::ErrorSummary e = service::RunTimeErrors(*rows);
  j["run_time_error"] = {{"jobs", e.jobs}, {"median_abs", e.median_abs}, {"p90_abs", e.p90_abs}, {"median", e.median}};
  SendJson(res, 200, j);
}

void GetAcctUsage(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res) {
  auto q = Query(req);
  if (!q.ok()) return SendError(res, q.status());
  bool truncated = false;
  auto rows = svc.Acct(c, *q, &truncated);
  if (!rows.ok()) return SendError(res, rows.status());
  const double until = q->until > 0 ? q->until : svc.Read()->published_at;
  json j{{"since", q->since}, {"until", until}, {"tenants", json::array()}, {"truncated", truncated}};
  for (const service::UsageRow& u : service::Usage(*rows, q->since, until)) {
    json t{{"jobs", u.jobs}, {"accel_hours", u.accel_hours}, {"cost_usd", u.cost_usd}, {"energy_kwh", u.energy_kwh},
           {"energy_measured_kwh", u.energy_measured_kwh}, {"energy_estimated_kwh", u.energy_estimated_kwh},
           {"accel_hours_by_type", u.accel_hours_by_type}};
    if (u.tenant.empty()) {
      j["total"] = t;
    } else {
      t["tenant"] = u.tenant;
      j["tenants"].push_back(t);
    }
  }
  SendJson(res, 200, j);
}

}  // namespace cnet::api
