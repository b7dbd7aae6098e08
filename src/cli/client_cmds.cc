// `cnet submit | ls | show | cancel | logs | sites | usage | admin`: a thin HTTP client of the API.
// Server address, token and CA file: flags, else $CNET_ADDR / $CNET_TOKEN / $CNET_CA_FILE, else
// ~/.config/cnet/config.yaml (addr:, token:, ca_file:), else http://127.0.0.1:8080. An https://
// address is verified against the CA file (or the system's CAs).
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/client_transport.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "common/csv.h"

namespace cnet {

namespace {

using nlohmann::json;

struct Conn {
  std::string addr, token, ca_file;
  bool json_out = false;
};

void Resolve(Conn& c) {
  std::string file_addr, file_token, file_ca;
  if (const char* home = std::getenv("HOME")) {
    try {
      YAML::Node n = YAML::LoadFile(std::string(home) + "/.config/cnet/config.yaml");
      if (n["addr"]) file_addr = n["addr"].as<std::string>();
      if (n["token"]) file_token = n["token"].as<std::string>();
      if (n["ca_file"]) file_ca = n["ca_file"].as<std::string>();
    } catch (...) {
    }
  }
  if (c.addr.empty()) c.addr = std::getenv("CNET_ADDR") ? std::getenv("CNET_ADDR") : file_addr;
  if (c.token.empty()) c.token = std::getenv("CNET_TOKEN") ? std::getenv("CNET_TOKEN") : file_token;
  if (c.ca_file.empty()) c.ca_file = std::getenv("CNET_CA_FILE") ? std::getenv("CNET_CA_FILE") : file_ca;
  if (c.addr.empty()) c.addr = "127.0.0.1:8080";
  if (auto a = NormalizeAddr(c.addr); a.ok()) c.addr = *a;  // else MakeClient reports it
}

struct Reply {
  int status = 0;
  std::string body;
  json doc;
};

Result<Reply> Call(const Conn& c, const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& ctype = "application/json", httplib::Headers extra = {}) {
  CNET_ASSIGN_OR_RETURN(auto cli, MakeClient(c.addr, c.ca_file));
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(60, 0);
  httplib::Headers h = std::move(extra);
  if (!c.token.empty()) h.emplace("Authorization", "Bearer " + c.token);
  httplib::Result r = method == "GET"    ? cli->Get(path, h)
                      : method == "POST" ? cli->Post(path, h, body, ctype)
                      : method == "PUT"  ? cli->Put(path, h, body, ctype)
                                         : cli->Delete(path, h);
  if (!r) return TransportError(*cli, r.error(), c.addr, c.ca_file);
  Reply out{r->status, r->body, json::parse(r->body, nullptr, false)};
  if (r->status >= 400) {
    std::string m = out.doc.is_object() && out.doc.contains("error") ? out.doc["error"].value("message", r->body) : r->body;
    return Status(r->status == 400 || r->status == 413 || r->status == 415 || r->status == 422 ? Code::kInvalidArgument
                  : r->status == 404 ? Code::kNotFound : Code::kFailedPrecondition,
                  "HTTP " + std::to_string(r->status) + ": " + m);
  }
  return out;
}

std::string Time(const json& t) {
  if (!t.is_number()) return "-";
  std::time_t s = static_cast<std::time_t>(t.get<double>());
  char b[32];
  std::strftime(b, sizeof b, "%H:%M:%S", std::localtime(&s));
  return b;
}

std::string Str(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "-" : v.dump(); }

void PrintJobs(const json& jobs) {
  std::printf("%-7s %-24s %-10s %-10s %-9s %-9s %-9s %s\n", "ID", "NAME", "TENANT", "STATE", "SUBMIT", "START", "END", "REASON");
  for (const auto& j : jobs) {
    std::string reason = Str(j["reason"]);
    if (reason.size() > 60) reason = reason.substr(0, 57) + "...";
    std::printf("%-7lld %-24.24s %-10.10s %-10s %-9s %-9s %-9s %s\n", static_cast<long long>(j["id"].get<int64_t>()),
                Str(j["name"]).c_str(), Str(j["tenant"]).c_str(), Str(j["state"]).c_str(), Time(j["submit_time"]).c_str(),
                Time(j["start_time"]).c_str(), Time(j["end_time"]).c_str(), reason.c_str());
  }
}

void AddConn(CLI::App* s, Conn& c) {
  s->add_option("--addr", c.addr, "server HOST:PORT, http://HOST:PORT or https://HOST:PORT (or $CNET_ADDR)");
  s->add_option("--ca-file", c.ca_file, "PEM CA certificate(s) to verify an https server (or $CNET_CA_FILE)");
  s->add_option("--token", c.token, "API token (or $CNET_TOKEN)");
  s->add_flag("--json", c.json_out, "print the server's JSON");
}

}  // namespace

namespace {

// cnet submit
void AddSubmit(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto file = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  CLI::App* s = app.add_subcommand("submit", "submit a job spec (YAML or JSON file; - for stdin)");
  s->add_option("file", *file, "job spec")->required();
  s->add_option("--idempotency-key", *key, "retries with the same key return the original job");
  AddConn(s, *c);
  s->callback([c, file, key, rc] {
    Resolve(*c);
    std::string text;
    if (*file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      auto t = ReadWholeFile(*file);
      if (!t.ok()) { *rc = ReportError(t.status()); return; }
      text = *t;
    }
    bool is_json = !text.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos && text[text.find_first_not_of(" \t\r\n")] == '{';
    httplib::Headers h;
    if (!key->empty()) h.emplace("Idempotency-Key", *key);
    auto r = Call(*c, "POST", "/v1/jobs", text, is_json ? "application/json" : "application/yaml", h);
    if (!r.ok()) { *rc = ReportError(Status(r.status().code(), *file + ": " + r.status().message())); return; }
    if (c->json_out) std::cout << r->doc.dump(2) << "\n";
    else std::cout << "job " << r->doc["id"] << " " << Str(r->doc["name"]) << " " << (r->status == 200 ? "(already submitted) " : "")
                   << Str(r->doc["state"]) << "\n";
    *rc = 0;
  });

}

// cnet ls
void AddLs(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto state = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(100);
  CLI::App* s = app.add_subcommand("ls", "list jobs");
  s->add_option("--state", *state, "PENDING, RUNNING, SUCCEEDED, ...");
  s->add_option("--label", *label, "key=value");
  s->add_option("--limit", *limit, "at most this many (0: all); pages are followed")->check(CLI::NonNegativeNumber);
  AddConn(s, *c);
  s->callback([c, state, label, limit, rc] {
    Resolve(*c);
    httplib::Params p;
    if (!state->empty()) p.emplace("state", *state);
    if (!label->empty()) p.emplace("label", *label);
    p.emplace("limit", std::to_string(*limit == 0 || *limit > 1000 ? 1000 : *limit));
    // The server ends a page at `limit` jobs or at its byte cap, and gives the next one as `next`.
    json jobs = json::array();
    std::string path = "/v1/jobs?" + httplib::detail::params_to_query_str(p);
    while (!path.empty() && (*limit == 0 || jobs.size() < static_cast<size_t>(*limit))) {
      auto r = Call(*c, "GET", path);
      if (!r.ok()) { *rc = ReportError(r.status()); return; }
      for (auto& j : r->doc["jobs"])
        if (*limit == 0 || jobs.size() < static_cast<size_t>(*limit)) jobs.push_back(std::move(j));
      path = r->doc.contains("next") && r->doc["next"].is_string() ? r->doc["next"].get<std::string>() : "";
    }
    if (c->json_out) std::cout << json{{"jobs", jobs}}.dump(2) << "\n";
    else PrintJobs(jobs);
    *rc = 0;
  });

}

// cnet show
void AddShow(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto id = std::make_shared<int64_t>(0);
  CLI::App* s = app.add_subcommand("show", "a job, its placement and its event history");
  s->add_option("id", *id, "job id")->required();
  AddConn(s, *c);
  s->callback([c, id, rc] {
    Resolve(*c);
    auto r = Call(*c, "GET", "/v1/jobs/" + std::to_string(*id));
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    const json& j = r->doc;
    if (c->json_out) { std::cout << j.dump(2) << "\n"; *rc = 0; return; }
    std::cout << "job " << j["id"] << "  " << Str(j["name"]) << "  tenant " << Str(j["tenant"]) << "\n"
              << "state    " << Str(j["state"]) << (j["exit_code"].is_null() ? "" : "  exit code " + j["exit_code"].dump()) << "\n"
              << "reason   " << Str(j["reason"]) << "\n"
              << "site     " << Str(j["site"]) << "  placement " << Str(j["placement"]) << "\n"
              << (j.contains("site_job") && j["site_job"].is_object()
                      ? "site job " + j["site_job"].value("kind", std::string()) + " " +
                            j["site_job"].value("id", std::string()) +
                            (j["site_job"].contains("cluster") ? " on cluster " + j["site_job"].value("cluster", std::string()) : "") + "\n"
                      : std::string())
              << "command  " << j["spec"]["command"].dump() << "\n"
              << "gang     " << j["spec"]["workers"] << " worker(s) x " << j["spec"]["accelerators_per_worker"] << " accelerator(s)"
              << "  types " << (j["spec"]["accelerator_types"].empty() ? std::string("any") : j["spec"]["accelerator_types"].dump()) << "\n"
              << "events:\n";
    for (const auto& e : j["events"])
      std::printf("  %s  %-10s -> %-10s %s\n", Time(e["time"]).c_str(), Str(e["from"]).c_str(), Str(e["to"]).c_str(), Str(e["reason"]).c_str());
    *rc = 0;
  });

}

// cnet cancel
void AddCancel(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto id = std::make_shared<int64_t>(0);
  CLI::App* s = app.add_subcommand("cancel", "cancel a job");
  s->add_option("id", *id, "job id")->required();
  AddConn(s, *c);
  s->callback([c, id, rc] {
    Resolve(*c);
    auto r = Call(*c, "POST", "/v1/jobs/" + std::to_string(*id) + "/cancel");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << (c->json_out ? r->doc.dump(2) : "job " + std::to_string(*id) + ": " + r->doc.value("message", Str(r->doc["state"]))) << "\n";
    *rc = 0;
  });

}

// cnet logs
void AddLogs(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto id = std::make_shared<int64_t>(0);
  auto follow = std::make_shared<bool>(false);
  auto err = std::make_shared<bool>(false);
  CLI::App* s = app.add_subcommand("logs", "print a job's output");
  s->add_option("id", *id, "job id")->required();
  s->add_flag("-f,--follow", *follow, "keep printing until the job ends");
  s->add_flag("--stderr", *err, "standard error instead of standard output");
  AddConn(s, *c);
  s->callback([c, id, follow, err, rc] {
    Resolve(*c);
    auto made = MakeClient(c->addr, c->ca_file);
    if (!made.ok()) { *rc = ReportError(made.status()); return; }
    httplib::Client& cli = **made;
    cli.set_read_timeout(3600, 0);
    httplib::Headers h;
    if (!c->token.empty()) h.emplace("Authorization", "Bearer " + c->token);
    std::string path = "/v1/jobs/" + std::to_string(*id) + "/logs?stream=" + (*err ? "stderr" : "stdout") + (*follow ? "&follow=1" : "");
    std::string errbody;
    int status = 0;
    auto r = cli.Get(path, h,
                     [&](const httplib::Response& res) { status = res.status; return true; },
                     [&](const char* data, size_t n) {
                       if (status >= 400) errbody.append(data, n);
                       else { std::fwrite(data, 1, n, stdout); std::fflush(stdout); }
                       return true;
                     });
    if (!r) { *rc = ReportError(TransportError(cli, r.error(), c->addr, c->ca_file)); return; }
    if (status >= 400) {
      json e = json::parse(errbody, nullptr, false);
      *rc = ReportError(Status(status == 404 ? Code::kNotFound : Code::kFailedPrecondition,
                               "HTTP " + std::to_string(status) + ": " + (e.is_object() && e.contains("error") ? e["error"].value("message", errbody) : errbody)));
      return;
    }
    *rc = 0;
  });

}

// cnet sites
void AddSites(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  CLI::App* s = app.add_subcommand("sites", "sites, their nodes and free capacity");
  AddConn(s, *c);
  s->callback([c, rc] {
    Resolve(*c);
    auto r = Call(*c, "GET", "/v1/sites");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    if (c->json_out) { std::cout << r->doc.dump(2) << "\n"; *rc = 0; return; }
    std::printf("%-12s %-8s %-10s %-8s %-30s %-16s %6s %6s\n", "SITE", "TYPE", "REGION", "HEALTHY", "NODE", "KIND/TYPE", "COUNT", "FREE");
    for (const auto& s : r->doc["sites"])
      for (const auto& n : s["nodes"])
        std::printf("%-12s %-8s %-10s %-8s %-30s %-16s %6d %6d\n", Str(s["name"]).c_str(), Str(s["type"]).c_str(), Str(s["region"]).c_str(),
                    s["healthy"].get<bool>() ? "yes" : "NO", Str(n["name"]).c_str(),
                    (Str(n["kind"]) == "cpu" ? "cpu cores" : Str(n["type"])).c_str(), n["count"].get<int>(), n["free"].get<int>());
    *rc = 0;
  });

}

// cnet usage
void AddUsage(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto tenant = std::make_shared<std::string>();
  CLI::App* s = app.add_subcommand("usage", "a tenant's usage and quota");
  s->add_option("--tenant", *tenant, "tenant (admins)");
  AddConn(s, *c);
  s->callback([c, tenant, rc] {
    Resolve(*c);
    auto r = Call(*c, "GET", tenant->empty() ? "/v1/usage" : "/v1/tenants/" + *tenant + "/usage");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    const json& u = r->doc;
    if (c->json_out) { std::cout << u.dump(2) << "\n"; *rc = 0; return; }
    std::cout << "tenant " << Str(u["tenant"]) << ": " << u["running_jobs"] << " running, " << u["pending_jobs"] << " pending, "
              << u["held_by_quota"] << " held by quota\n  in use: " << u["in_use"].dump() << "\n  quota:  " << u["quota"].dump() << "\n";
    *rc = 0;
  });

}

// When a token time (epoch seconds, or null) is, in UTC.
std::string DateTime(const json& t) {
  if (!t.is_number()) return "-";
  std::time_t s = static_cast<std::time_t>(t.get<double>());
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%MZ", std::gmtime(&s));
  return b;
}

void PrintTokens(const json& tokens) {
  std::printf("%-20s %-6s %-12s %-18s %-17s %-17s %-17s %s\n", "ID", "ROLE", "TENANT", "LABEL", "CREATED", "EXPIRES",
              "LAST USE", "REVOKED");
  for (const auto& t : tokens)
    std::printf("%-20s %-6s %-12.12s %-18.18s %-17s %-17s %-17s %s\n", Str(t["id"]).c_str(), Str(t["role"]).c_str(),
                Str(t["tenant"]).c_str(), Str(t["label"]).c_str(), DateTime(t["created"]).c_str(),
                DateTime(t["expires"]).c_str(), DateTime(t["last_used"]).c_str(), DateTime(t["revoked"]).c_str());
}

// cnet admin token create | list | revoke (and `cnet admin token --tenant T`, the older form of create)
void AddTokenCommands(CLI::App* ad, int* rc) {
  struct Create {
    Conn c;
    std::string tenant, role = "tenant", label, ttl;
  };
  auto make = [rc](std::shared_ptr<Create> a) {
    Resolve(a->c);
    json b{{"role", a->role}};
    if (!a->tenant.empty()) b["tenant"] = a->tenant;
    if (!a->label.empty()) b["label"] = a->label;
    if (!a->ttl.empty()) {
      auto ttl = ParseDuration(a->ttl, "--ttl");
      if (!ttl.ok()) { *rc = ReportError(ttl.status()); return; }
      b["ttl_s"] = *ttl;
    }
    auto r = Call(a->c, "POST", "/v1/tokens", b.dump());
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << (a->c.json_out ? r->doc.dump(2) : Str(r->doc["token"])) << "\n";
    *rc = 0;
  };
  auto add_create_options = [](CLI::App* s, Create& a) {
    s->add_option("--tenant", a.tenant, "tenant the token acts for");
    s->add_option("--role", a.role, "tenant (default) or admin");
    s->add_option("--label", a.label, "a note shown in `cnet admin token list`");
    s->add_option("--ttl", a.ttl, "expires after this long: 3600, 90m, 12h, 30d, 2w (default: never)");
    AddConn(s, a.c);
  };
  auto legacy = std::make_shared<Create>();
  CLI::App* tok = ad->add_subcommand("token", "API tokens: create (printed once), list, revoke");
  add_create_options(tok, *legacy);
  tok->callback([tok, legacy, make] {
    if (tok->get_subcommands().empty()) make(legacy);  // `cnet admin token --tenant T`
  });
  auto create = std::make_shared<Create>();
  CLI::App* cr = tok->add_subcommand("create", "create a token (printed once; only its hash is stored)");
  add_create_options(cr, *create);
  cr->callback([create, make] { make(create); });

  auto lc = std::make_shared<Conn>();
  CLI::App* ls = tok->add_subcommand("list", "every token: id, role, tenant, label, creation, expiry, last use, revocation");
  AddConn(ls, *lc);
  ls->callback([lc, rc] {
    Resolve(*lc);
    auto r = Call(*lc, "GET", "/v1/tokens");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    if (lc->json_out) std::cout << r->doc.dump(2) << "\n";
    else PrintTokens(r->doc["tokens"]);
    *rc = 0;
  });

  auto rcn = std::make_shared<Conn>();
  auto id = std::make_shared<std::string>();
  CLI::App* rv = tok->add_subcommand("revoke", "revoke a token by id (effective at once)");
  rv->add_option("id", *id, "token id (tok_...), from `cnet admin token list`")->required();
  AddConn(rv, *rcn);
  rv->callback([rcn, id, rc] {
    Resolve(*rcn);
    auto r = Call(*rcn, "DELETE", "/v1/tokens/" + *id);
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << (rcn->json_out ? r->doc.dump(2) : "revoked " + Str(r->doc["id"])) << "\n";
    *rc = 0;
  });
}

// cnet admin
void AddAdmin(CLI::App& app, int* rc) {
  CLI::App* ad = app.add_subcommand("admin", "tenants and tokens (admin token required)");
  ad->require_subcommand(1);
  AddTokenCommands(ad, rc);
  auto c2 = std::make_shared<Conn>();
  auto name = std::make_shared<std::string>();
  auto max_q = std::make_shared<int>(0);
  auto max_a = std::make_shared<std::vector<std::string>>();
  CLI::App* ten = ad->add_subcommand("tenant", "create or update a tenant");
  ten->add_option("name", *name, "tenant name")->required();
  ten->add_option("--max-queued", *max_q, "jobs queued at most (0: no limit)");
  ten->add_option("--max-accelerators", *max_a, "TYPE=N ('*=N' for all types); repeatable");
  auto unix_user = std::make_shared<std::string>();
  ten->add_option("--unix-user", *unix_user,
                  "Unix account the tenant's jobs run as on the local site (default: as recorded, else cnet-<tenant>, "
                  "created when first needed)");
  AddConn(ten, *c2);
  ten->callback([c2, name, max_q, max_a, unix_user, rc] {
    Resolve(*c2);
    json b{{"name", *name}, {"max_queued_jobs", *max_q}, {"max_accelerators", json::object()}};
    if (!unix_user->empty()) b["unix_user"] = *unix_user;
    for (const auto& kv : *max_a) {
      size_t eq = kv.find('=');
      auto n = eq == std::string::npos ? std::nullopt : ParseInt(kv.substr(eq + 1));
      if (!n) { *rc = ReportError(InvalidArgument("--max-accelerators: expected TYPE=N, got '" + kv + "'")); return; }
      b["max_accelerators"][kv.substr(0, eq)] = *n;
    }
    auto r = Call(*c2, "PUT", "/v1/tenants", b.dump());
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << r->doc.dump(c2->json_out ? 2 : -1) << "\n";
    *rc = 0;
  });

}

}  // namespace

void AddClientCommands(CLI::App& app, int* rc) {
  AddSubmit(app, rc);
  AddLs(app, rc);
  AddShow(app, rc);
  AddCancel(app, rc);
  AddLogs(app, rc);
  AddSites(app, rc);
  AddUsage(app, rc);
  AddAdmin(app, rc);
}

}  // namespace cnet
