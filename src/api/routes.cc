#include "api/routes.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "api/bounded_server.h"
#include "api/dataset_routes.h"
#include "api/power_routes.h"
#include "api/dispatch_routes.h"
#include "api/error_mapping.h"
#include "api/host_check.h"
#include "api/http_server.h"
#include "api/json_views.h"
#include "api/request_gate.h"
#include "api/log_file.h"
#include "common/csv.h"
#include "common/version.h"

namespace cnet::api {

using nlohmann::json;
using service::Caller;
using service::Service;

void SendJson(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& msg) {
  SendJson(res, status, ErrorJson(status, msg));
}

void SendError(httplib::Response& res, const Status& st) {
  if (st.code() == Code::kUnauthenticated) res.set_header("WWW-Authenticate", "Bearer");
  SendError(res, HttpStatus(st.code()), st.message());
}

namespace {

using Req = httplib::Request;
using Res = httplib::Response;
using Handler = void (*)(Service&, const Caller&, const Req&, Res&);

// `s` if it is printable ASCII, else "?": request bytes echoed in a message must not make the
// JSON rendering throw (invalid UTF-8).
std::string Echo(const std::string& s) {
  for (unsigned char ch : s)
    if (ch < 0x20 || ch > 0x7e) return "?";
  return s;
}

Result<int64_t> PathId(const Req& req) {
  auto v = ParseInt(req.matches[1]);
  if (!v || *v <= 0) return InvalidArgument("id: not a job id");
  return *v;
}

Result<json> JsonBody(const Req& req) {
  if (req.body.size() > (1 << 16)) return InvalidArgument("body: larger than 65536 bytes");
  json b = json::parse(req.body, nullptr, false);
  if (b.is_discarded()) return InvalidArgument("body: not valid JSON");
  if (!b.is_object()) return InvalidArgument("body: expected a JSON object");
  return b;
}

void PostJob(Service& svc, const Caller& c, const Req& req, Res& res) {
  const Limits& L = svc.config().limits;
  if (req.body.size() > L.max_body_bytes)
    return SendError(res, 413, "body: larger than " + std::to_string(L.max_body_bytes) + " bytes");
  auto fmt = FormatFromContentType(req.get_header_value("Content-Type"));
  if (!fmt) return SendError(res, 415, "Content-Type: use application/json or application/yaml");
  auto parsed = ParseJobRequest(req.body, *fmt, L);
  if (!parsed.ok()) return SendError(res, parsed.status());
  auto r = svc.Submit(c, *parsed, req.get_header_value("Idempotency-Key"));
  if (!r.ok()) return SendError(res, r.status());
  if (!r->created) res.set_header("Idempotent-Replayed", "true");
  res.set_header("Location", "/v1/jobs/" + std::to_string(r->job.id));
  json j = JobJson(service::JobView{r->job, "", {}}, false);
  if (r->job.array_id > 0 && r->created) j["array_tasks"] = r->tasks;
  SendJson(res, r->created ? 201 : 200, j);
}

Status ParseFilter(const Req& req, store::JobFilter* f) {
  for (const auto& [k, v] : req.params) {
    if (k == "state") {
      auto s = store::ParseState(v);
      if (!s) return InvalidArgument("state: unknown state '" + v + "'");
      f->state = s;
    } else if (k == "tenant") {
      f->tenant = v;
    } else if (k == "name_prefix") {
      f->name_prefix = v;
    } else if (k == "label") {
      f->label = v;
    } else if (k == "after") {
      auto a = ParseInt(v);
      if (!a || *a < 0) return InvalidArgument("after: a job id");
      f->after_id = *a;
    } else if (k == "before") {
      auto a = ParseInt(v);
      if (!a || *a < 1) return InvalidArgument("before: a job id");
      f->before_id = *a;
    } else if (k == "order") {
      if (v != "newest" && v != "oldest") return InvalidArgument("order: newest or oldest");
      f->newest_first = v == "newest";
    } else if (k == "active") {
      if (v != "true" && v != "false") return InvalidArgument("active: true or false");
      f->active_only = v == "true";
    } else if (k == "since") {
      auto a = ParseDouble(v);
      if (!a || *a < 0) return InvalidArgument("since: seconds since the Unix epoch");
      f->submitted_since = *a;
    } else if (k == "array") {
      auto a = ParseInt(v);
      if (!a || *a < 1) return InvalidArgument("array: an array id");
      f->array_id = *a;
    } else if (k == "limit") {
      auto a = ParseInt(v);
      if (!a || *a < 1 || *a > 1000) return InvalidArgument("limit: between 1 and 1000");
      f->limit = static_cast<int>(*a);
    } else {
      return InvalidArgument(Echo(k) + ": unknown query parameter");
    }
  }
  return Status::Ok();
}

// One page of a list: rendered jobs, stopped at `f.limit` items or `cap` bytes (always at least one
// item, so that every page makes progress). The store is read in small batches, sized by the largest
// job seen, so that a page of large jobs is never held whole.
struct Page {
  std::string items;  // comma-separated JSON objects
  int count = 0;
  int64_t last_id = 0;
  bool more = false;  // a next page may hold more
};

Result<Page> RenderPage(Service& svc, const Caller& c, store::JobFilter f, size_t cap) {
  Page p;
  const int want = f.limit;
  size_t largest = 0;
  while (p.count < want) {
    const size_t left = cap > p.items.size() ? cap - p.items.size() : 0;
    const size_t batch = largest == 0 ? 8 : left / largest + 1;
    f.limit = static_cast<int>(std::clamp<size_t>(batch, 1, std::min<size_t>(static_cast<size_t>(want - p.count), 100)));
    auto rows = svc.ListJobs(c, f);
    if (!rows.ok()) return rows.status();
    for (const auto& v : *rows) {
      std::string j = JobJson(v, false).dump();
      if (p.count > 0 && p.items.size() + 1 + j.size() > cap) {
        p.more = true;
        return p;
      }
      if (p.count > 0) p.items += ',';
      p.items += j;
      ++p.count;
      p.last_id = v.row.id;
      largest = std::max(largest, j.size());
    }
    if (rows->size() < static_cast<size_t>(f.limit)) return p;  // the end
    (f.newest_first ? f.before_id : f.after_id) = p.last_id;
  }
  p.more = true;
  return p;
}

// The same query from the job after `last_id` on (before it, newest first).
std::string NextUrl(const Req& req, int64_t last_id, bool newest_first) {
  const char* cursor = newest_first ? "before" : "after";
  httplib::Params q;
  for (const auto& [k, v] : req.params)
    if (k != cursor) q.emplace(k, v);
  q.emplace(cursor, std::to_string(last_id));
  return "/v1/jobs?" + httplib::detail::params_to_query_str(q);
}

void ListJobs(Service& svc, const Caller& c, const Req& req, Res& res) {
  store::JobFilter f;
  if (Status st = ParseFilter(req, &f); !st.ok()) return SendError(res, st);
  auto page = RenderPage(svc, c, f, svc.config().http.max_list_bytes);
  if (!page.ok()) return SendError(res, page.status());
  const bool more = page->more && page->count > 0;
  res.status = 200;
  const std::string cursor = more ? std::to_string(page->last_id) : "null";
  res.set_content("{\"jobs\":[" + page->items + "],\"next\":" +
                      (more ? json(NextUrl(req, page->last_id, f.newest_first)).dump() : "null") +
                      ",\"next_after\":" + (f.newest_first ? "null" : cursor) +
                      ",\"next_before\":" + (f.newest_first ? cursor : "null") + "}",
                  "application/json");
}

void GetJob(Service& svc, const Caller& c, const Req& req, Res& res) {
  auto id = PathId(req);
  if (!id.ok()) return SendError(res, id.status());
  auto r = svc.GetJob(c, *id, true);
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, JobJson(*r, true));
}

// ?task_only=true: an array's id names its first task alone, not the whole array.
Result<bool> WholeArray(const Req& req) {
  for (const auto& [k, v] : req.params) {
    if (k != "task_only") return InvalidArgument(Echo(k) + ": unknown query parameter");
    if (v != "true" && v != "false") return InvalidArgument("task_only: true or false");
    return v != "true";
  }
  return true;
}

// The job the path names, and whether the whole array is meant (WholeArray).
struct JobTarget {
  int64_t id = 0;
  bool whole_array = true;
};
Result<JobTarget> TargetOf(const Req& req) {
  CNET_ASSIGN_OR_RETURN(int64_t id, PathId(req));
  CNET_ASSIGN_OR_RETURN(bool whole, WholeArray(req));
  return JobTarget{id, whole};
}

void CancelJob(Service& svc, const Caller& c, const Req& req, Res& res) {
  auto t = TargetOf(req);
  if (!t.ok()) return SendError(res, t.status());
  auto r = svc.Cancel(c, t->id, t->whole_array);
  if (!r.ok()) return SendError(res, r.status());
  json j{{"id", t->id}, {"state", store::StateName(r->state)}};
  if (!r->message.empty()) j["message"] = r->message;
  SendJson(res, 202, j);
}

void ActOnJob(service::UserAction what, Service& svc, const Caller& c, const Req& req, Res& res) {
  auto t = TargetOf(req);
  if (!t.ok()) return SendError(res, t.status());
  auto r = svc.Act(c, what, t->id, t->whole_array);
  if (!r.ok()) return SendError(res, r.status());
  json j{{"id", t->id}, {"state", store::StateName(r->state)}, {"jobs", r->done}, {"skipped", r->skipped}};
  SendJson(res, 200, j);
}
void HoldJob(Service& s, const Caller& c, const Req& q, Res& r) { ActOnJob(service::UserAction::kHold, s, c, q, r); }
void ReleaseJob(Service& s, const Caller& c, const Req& q, Res& r) { ActOnJob(service::UserAction::kRelease, s, c, q, r); }
void RequeueJob(Service& s, const Caller& c, const Req& q, Res& r) { ActOnJob(service::UserAction::kRequeue, s, c, q, r); }

void GetLogs(Service& svc, const Caller& c, const Req& req, Res& res) {
  auto id = PathId(req);
  if (!id.ok()) return SendError(res, id.status());
  std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "stdout";
  int attempt = 0;
  if (req.has_param("attempt")) {
    auto a = ParseInt(req.get_param_value("attempt"));
    if (!a || *a < 1) return SendError(res, 400, "attempt: a positive number");
    attempt = static_cast<int>(*a);
  }
  const bool follow = req.has_param("follow") && (req.get_param_value("follow") == "1" || req.get_param_value("follow") == "true");
  auto loc = svc.Logs(c, *id, stream, attempt);
  if (!loc.ok()) return SendError(res, loc.status());
  const std::string path = loc->path;
  const int64_t jid = *id;
  res.status = 200;
  res.set_chunked_content_provider("text/plain", [&svc, path, jid, follow](size_t offset, httplib::DataSink& sink) {
    auto chunk = ReadLogChunk(path, offset, 65536);  // O_NOFOLLOW, regular files only
    if (chunk.ok() && !chunk->empty()) return sink.write(chunk->data(), chunk->size());
    auto terminal = svc.IsTerminal(jid);
    const bool refused = !chunk.ok() && chunk.status().code() != Code::kNotFound;
    if (refused || !follow || !terminal.ok() || *terminal) {  // a last read after the job ended, then done
      sink.done();
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return sink.is_writable();
  });
}

void GetSites(Service& svc, const Caller&, const Req&, Res& res) { SendJson(res, 200, SitesJson(*svc.Read())); }

void GetUsage(Service& svc, const Caller& c, const Req& req, Res& res) {
  std::string tenant = req.matches.size() > 1 ? std::string(req.matches[1]) : req.has_param("tenant") ? req.get_param_value("tenant") : "";
  auto r = svc.Usage(c, tenant);
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, UsageJson(*r));
}

Result<store::TenantRow> TenantFromJson(const json& b) {
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "name" && it.key() != "max_accelerators" && it.key() != "max_queued_jobs" && it.key() != "unix_user")
      return InvalidArgument(it.key() + ": unknown field");
  if (!b.contains("name") || !b["name"].is_string()) return InvalidArgument("name: required string");
  store::TenantRow t;
  t.name = b["name"].get<std::string>();
  if (b.contains("unix_user")) {
    if (!b["unix_user"].is_string()) return InvalidArgument("unix_user: a Unix account name (string)");
    t.unix_user = b["unix_user"].get<std::string>();
  }
  if (b.contains("max_queued_jobs")) {
    const json& q = b["max_queued_jobs"];
    if (!q.is_number_integer() || q.get<int64_t>() < 0 || q.get<int64_t>() > 10000000)
      return InvalidArgument("max_queued_jobs: an integer from 0 to 10000000");
    t.max_queued_jobs = q.get<int>();
  }
  if (b.contains("max_accelerators")) {
    const json& m = b["max_accelerators"];
    if (!m.is_object()) return InvalidArgument("max_accelerators: a mapping of type to count");
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > 1000000)
        return InvalidArgument("max_accelerators." + it.key() + ": an integer from 0 to 1000000");
      t.max_accelerators[it.key()] = it.value().get<int>();
    }
  }
  return t;
}

void PutTenant(Service& svc, const Caller& c, const Req& req, Res& res) {
  if (!c.admin) return SendError(res, PermissionDenied("admin role required"));
  auto b = JsonBody(req);
  if (!b.ok()) return SendError(res, b.status());
  auto t = TenantFromJson(*b);
  if (!t.ok()) return SendError(res, t.status());
  auto r = svc.PutTenant(c, *t);
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, TenantJson(*r));
}

void PostToken(Service& svc, const Caller& c, const Req& req, Res& res) {
  if (!c.admin) return SendError(res, PermissionDenied("admin role required"));
  auto b = JsonBody(req);
  if (!b.ok()) return SendError(res, b.status());
  for (auto it = b->begin(); it != b->end(); ++it) {
    const std::string& k = it.key();
    if (k != "role" && k != "tenant" && k != "label" && k != "ttl_s") return SendError(res, InvalidArgument(k + ": unknown field"));
    if (k != "ttl_s" && !it->is_string()) return SendError(res, InvalidArgument(k + ": a string"));
    if (k == "ttl_s" && !it->is_number()) return SendError(res, InvalidArgument("ttl_s: a number of seconds"));
  }
  const std::string role = b->value("role", "tenant");
  if (role != "tenant" && role != "admin") return SendError(res, 400, "role: tenant or admin");
  auto r = svc.CreateToken(c, role == "admin" ? store::Role::kAdmin : store::Role::kTenant, b->value("tenant", ""),
                           b->value("label", ""), b->value("ttl_s", 0.0));
  if (!r.ok()) return SendError(res, r.status());
  json out = TokenJson(r->row);
  out["token"] = r->token;
  out["note"] = "shown once; only its hash is stored";
  SendJson(res, 201, out);
}

void ListTokens(Service& svc, const Caller& c, const Req& req, Res& res) {
  if (!req.params.empty()) return SendError(res, InvalidArgument(Echo(req.params.begin()->first) + ": unknown query parameter"));
  auto r = svc.ListTokens(c);
  if (!r.ok()) return SendError(res, r.status());
  json out{{"tokens", json::array()}};
  for (const auto& t : *r) out["tokens"].push_back(TokenJson(t));
  SendJson(res, 200, out);
}

void RevokeToken(Service& svc, const Caller& c, const Req& req, Res& res) {
  auto r = svc.RevokeToken(c, req.matches[1]);
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, 200, TokenJson(*r));
}

// Prometheus text exposition, here and on the metrics_listen address.
void SendMetrics(Service& svc, Res& res) { res.set_content(svc.metrics().Render(), "text/plain; version=0.0.4"); }

void GetMetrics(Service& svc, const Caller& c, const Req&, Res& res) {
  if (!c.admin) return SendError(res, PermissionDenied("admin role required (or scrape the metrics_listen address)"));
  SendMetrics(svc, res);
}

struct Route {
  const char* method;
  const char* pattern;   // httplib regex
  const char* name;      // the route template, for metrics
  Handler handler;
};

const Route kRoutes[] = {
    {"POST", "/v1/jobs", "/v1/jobs", PostJob},
    {"GET", "/v1/jobs", "/v1/jobs", ListJobs},
    {"GET", R"(/v1/jobs/(\d+))", "/v1/jobs/{id}", GetJob},
    {"POST", R"(/v1/jobs/(\d+)/cancel)", "/v1/jobs/{id}/cancel", CancelJob},
    {"DELETE", R"(/v1/jobs/(\d+))", "/v1/jobs/{id}/cancel", CancelJob},
    {"GET", R"(/v1/jobs/(\d+)/logs)", "/v1/jobs/{id}/logs", GetLogs},
    {"GET", R"(/v1/jobs/(\d+)/explain)", "/v1/jobs/{id}/explain", GetExplain},
    {"POST", "/v1/jobs/dry-run", "/v1/jobs/dry-run", PostDryRun},
    {"GET", "/v1/acct", "/v1/acct", GetAcct},
    {"GET", "/v1/acct/usage", "/v1/acct/usage", GetAcctUsage},
    {"POST", R"(/v1/jobs/(\d+)/hold)", "/v1/jobs/{id}/hold", HoldJob},
    {"POST", R"(/v1/jobs/(\d+)/release)", "/v1/jobs/{id}/release", ReleaseJob},
    {"POST", R"(/v1/jobs/(\d+)/requeue)", "/v1/jobs/{id}/requeue", RequeueJob},
    {"GET", "/v1/sites", "/v1/sites", GetSites},
    {"GET", "/v1/usage", "/v1/usage", GetUsage},
    {"GET", R"(/v1/tenants/([A-Za-z0-9._-]+)/usage)", "/v1/tenants/{name}/usage", GetUsage},
    {"PUT", "/v1/tenants", "/v1/tenants", PutTenant},
    {"POST", "/v1/tokens", "/v1/tokens", PostToken},
    {"GET", "/v1/tokens", "/v1/tokens", ListTokens},
    {"DELETE", R"(/v1/tokens/([^/]*))", "/v1/tokens/{id}", RevokeToken},
    {"GET", "/metrics", "/metrics", GetMetrics},
    // Power budgets (power_routes.h, docs/energy.md).
    {"GET", "/v1/admin/power", "/v1/admin/power", GetPower},
    {"PUT", R"(/v1/admin/sites/([A-Za-z0-9._-]+)/power-budget)", "/v1/admin/sites/{site}/power-budget", PutPowerBudget},
    {"DELETE", R"(/v1/admin/sites/([A-Za-z0-9._-]+)/power-budget)", "/v1/admin/sites/{site}/power-budget", DeletePowerBudget},
    // Datasets (dataset_routes.h, docs/data.md).
    {"POST", "/v1/datasets", "/v1/datasets", PostDataset},
    {"GET", "/v1/datasets", "/v1/datasets", ListDatasets},
    {"GET", R"(/v1/datasets/([A-Za-z0-9._-]+))", "/v1/datasets/{name}", GetDataset},
    {"PATCH", R"(/v1/datasets/([A-Za-z0-9._-]+))", "/v1/datasets/{name}", PatchDataset},
    {"DELETE", R"(/v1/datasets/([A-Za-z0-9._-]+))", "/v1/datasets/{name}", DeleteDataset},
    {"PUT", R"(/v1/datasets/([A-Za-z0-9._-]+)/grants/([A-Za-z0-9._-]+))", "/v1/datasets/{name}/grants/{tenant}", PutGrant},
    {"DELETE", R"(/v1/datasets/([A-Za-z0-9._-]+)/grants/([A-Za-z0-9._-]+))", "/v1/datasets/{name}/grants/{tenant}", DeleteGrant},
    {"GET", R"(/v1/datasets/([A-Za-z0-9._-]+)/audit)", "/v1/datasets/{name}/audit", GetDatasetAudit},
};

// Authentication and metrics around a handler.
httplib::Server::Handler Authed(Service& svc, const Route& r) {
  return [&svc, r](const Req& req, Res& res) {
    const double t0 = MonotonicSeconds();
    if (auto c = GateCaller(svc, req); !c.ok()) {  // authenticated by the gate, before the body was read
      SendError(res, c.status());
    } else {
      r.handler(svc, *c, req, res);
    }
    svc.metrics().ObserveRequest(r.name, res.status, MonotonicSeconds() - t0);
  };
}

// /healthz: 200 ok, or 503 degraded while the store cannot commit writes.
void SendHealth(Service& svc, Res& res) {
  auto h = svc.Health();
  if (h.writable) SendJson(res, 200, {{"status", "ok"}});
  else SendJson(res, 503, {{"status", "degraded"}, {"reason", h.reason}});
}

// The Host check (host_check.h) in front of a handler.
httplib::Server::Handler HostChecked(std::shared_ptr<const HostAllowList> hosts, httplib::Server::Handler h) {
  return [hosts = std::move(hosts), h = std::move(h)](const Req& req, Res& res) {
    const std::string host = req.get_header_value("Host");
    if (host.empty()) return SendError(res, 400, "Host: header required");
    if (!hosts->Allows(host))
      return SendError(res, 421, "Host: '" + Echo(HostName(host)) + "' is not a name of this server (see allowed_hosts)");
    h(req, res);
  };
}

}  // namespace

void RegisterMetricsRoute(httplib::Server& srv, Service& svc, std::shared_ptr<const HostAllowList> hosts) {
  srv.Get("/metrics", HostChecked(hosts, [&svc](const Req&, Res& res) { SendMetrics(svc, res); }));
  srv.Get("/healthz", HostChecked(hosts, [&svc](const Req&, Res& res) { SendHealth(svc, res); }));
}

void RegisterRoutes(httplib::Server& srv, Service& svc) {
  auto hosts = std::make_shared<const HostAllowList>(HostAllowList::For(svc.config().host, svc.config().allowed_hosts));
  srv.Get("/healthz", HostChecked(hosts, [&svc](const Req&, Res& res) { SendHealth(svc, res); }));
  srv.Get("/v1/version", HostChecked(hosts, [](const Req&, Res& res) { SendJson(res, 200, {{"version", kVersion}}); }));
  srv.Get("/v1/openapi.json", HostChecked(hosts, [](const Req&, Res& res) {
            res.set_content(OpenApiDocument(), "application/json");
          }));
  for (const Route& r : kRoutes) {
    const std::string m = r.method;
    auto h = HostChecked(hosts, Authed(svc, r));
    if (m == "GET") srv.Get(r.pattern, h);
    else if (m == "POST") srv.Post(r.pattern, h);
    else if (m == "PUT") srv.Put(r.pattern, h);
    else if (m == "DELETE") srv.Delete(r.pattern, h);
    else if (m == "PATCH") srv.Patch(r.pattern, h);
  }
  srv.set_error_handler([](const Req&, Res& res) {
    if (!res.body.empty()) return;
    if (const Connection* conn = CurrentConnection(); conn && res.status == 400) {  // httplib says 400 for both
      if (conn->problem() == Connection::Problem::kDeadline) res.status = 408;
      if (conn->problem() == Connection::Problem::kHeadersTooLarge) res.status = 431;
    }
    std::string m = res.status == 404   ? "path: no such endpoint (see /v1/openapi.json)"
                    : res.status == 408 ? "request: not complete within the request deadline"
                    : res.status == 431 ? "headers: too large"
                    : res.status == 413 ? "body: too large"
                                        : "request: " + std::to_string(res.status);
    SendError(res, res.status, m);
  });
  srv.set_exception_handler([](const Req&, Res& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(res, 500, "server: " + what);
  });
}

}  // namespace cnet::api
