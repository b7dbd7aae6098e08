#include "api/json_views.h"

#include "api/error_mapping.h"

namespace cnet::api {

using nlohmann::json;

namespace {

// The run's own id at its site (e.g. {"kind": "slurm", "id": "17", "cluster": "east"}), from the
// "site_job" object a backend may put in its handle; null when there is none.
json SiteJob(const std::string& runtime_json) {
  if (runtime_json.empty()) return nullptr;
  json h = json::parse(runtime_json, nullptr, false);
  if (!h.is_object() || !h.contains("site_job") || !h["site_job"].is_object()) return nullptr;
  return h["site_job"];
}

}  // namespace

json JobJson(const service::JobView& v, bool with_events) {
  const store::JobRow& r = v.row;
  json j{{"id", r.id},
         {"name", r.name},
         {"tenant", r.tenant},
         {"state", store::StateName(r.state)},
         {"reason", v.live_reason.empty() ? r.reason : v.live_reason},
         {"submit_time", r.submit_time},
         {"start_time", r.start_time > 0 ? json(r.start_time) : json(nullptr)},
         {"end_time", r.end_time > 0 ? json(r.end_time) : json(nullptr)},
         {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
         {"site", r.site.empty() ? json(nullptr) : json(r.site)},
         {"placement", r.placement_json.empty() ? json(nullptr) : json::parse(r.placement_json, nullptr, false)},
         {"attempts", r.attempts},
         {"site_job", SiteJob(r.runtime_json)},
         {"spec", json::parse(r.spec_json, nullptr, false)},
         {"array_id", r.array_id > 0 ? json(r.array_id) : json(nullptr)},
         {"array_index", r.array_id > 0 ? json(r.array_index) : json(nullptr)},
         {"held_by", r.held_by.empty() ? json(nullptr) : json(r.held_by)}};
  // Measured energy (docs/energy.md); null when the site measured none (`cnet acct` estimates it).
  j["energy"] = r.energy_source.empty() ? json(nullptr) : json{{"joules", r.energy_j}, {"source", r.energy_source}};
  if (v.estimated_start >= 0) j["estimated_start"] = v.estimated_start;  // absent when unknown
  if (with_events) {
    json ev = json::array();
    for (const auto& e : v.events)
      ev.push_back({{"time", e.time},
                    {"from", e.from_state.empty() ? json(nullptr) : json(e.from_state)},
                    {"to", e.to_state},
                    {"reason", e.reason}});
    j["events"] = ev;
  }
  return j;
}

json SitesJson(const service::ReadModel& m) {
  json sites = json::array();
  for (const auto& s : m.sites) {
    json nodes = json::array(), free_by_type = json::object(), total_by_type = json::object();
    for (const auto& n : s.nodes) {
      nodes.push_back({{"name", n.name}, {"kind", n.kind}, {"type", n.type}, {"count", n.count}, {"free", n.free},
                       {"usable", n.usable}, {"reason", n.reason}, {"cpus", n.cpus}, {"memory_gib", n.memory_gib}});
      if (n.cpus_free >= 0) nodes.back()["cpus_free"] = n.cpus_free;
      free_by_type[n.type] = free_by_type.value(n.type, 0) + n.free;
      total_by_type[n.type] = total_by_type.value(n.type, 0) + n.count;
    }
    sites.push_back({{"name", s.name}, {"type", s.type}, {"region", s.region}, {"healthy", s.healthy},
                     {"reason", s.reason}, {"nodes", nodes}, {"capacity", total_by_type}, {"free", free_by_type},
                     {"attributes", s.attributes}});
  }
  return json{{"sites", sites}};
}

json TenantJson(const store::TenantRow& t) {
  return json{{"name", t.name}, {"max_accelerators", t.max_accelerators}, {"max_queued_jobs", t.max_queued_jobs},
              {"unix_user", t.unix_user}};
}

json TokenJson(const store::TokenRow& t) {
  auto when = [](double s) { return s > 0 ? json(s) : json(nullptr); };
  return json{{"id", t.id},
              {"role", t.role == store::Role::kAdmin ? "admin" : "tenant"},
              {"tenant", t.tenant.empty() ? json(nullptr) : json(t.tenant)},
              {"label", t.label},
              {"created", t.created},
              {"expires", when(t.expires)},
              {"last_used", when(t.last_used)},
              {"revoked", when(t.revoked)}};
}

json UsageJson(const service::Service::UsageView& u) {
  json in_use = json::object();
  for (const auto& [type, n] : u.usage.charged)
    if (!type.empty() && n > 0) in_use[type] = n;
  json quota = u.quota ? json{{"max_accelerators", u.quota->max_accelerators}, {"max_queued_jobs", u.quota->max_queued_jobs}}
                       : json::object();
  const int pending = u.usage.queued - u.usage.held;
  return json{{"tenant", u.tenant}, {"running_jobs", u.usage.running}, {"pending_jobs", std::max(0, pending)},
              {"held_by_quota", u.usage.held}, {"queued_jobs", u.usage.queued}, {"in_use", in_use},
              {"accelerators_charged", u.usage.charged_all}, {"quota", quota}};
}

json ErrorJson(int http_status, const std::string& msg) {
  json e{{"error", {{"status", http_status}, {"message", msg}}}};
  std::string f = FieldOf(msg);
  if (!f.empty()) e["error"]["field"] = f;
  return e;
}

}  // namespace cnet::api
