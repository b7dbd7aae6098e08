// `cnet submit | ls | show | cancel | logs | sites | usage | admin`: a thin HTTP client of the API.
// Server address, token and CA file: flags, else $CNET_ADDR / $CNET_TOKEN / $CNET_CA_FILE, else
// the client config file (client_config.h), else http://127.0.0.1:8080. An https:// address is
// verified against the CA file (or the system's CAs). `cnet ls` is in ls_cmd.cc.
#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/client_conn.h"
#include "cli/client_transport.h"
#include "cli/commands.h"
#include "cli/dispatch_cmds.h"
#include "cli/duration.h"
#include "cli/job_ref.h"
#include "cli/job_wait.h"
#include "cli/submit_fields.h"
#include "common/csv.h"

namespace cnet {

namespace {

using nlohmann::json;

// A job view's gang size (1 when the view has none).
// The largest gang the job may run as: an elastic job's attempts may differ in size.
int Workers(const json& job) {
  if (!job.contains("spec") || !job["spec"].is_object()) return 1;
  return std::max(job["spec"].value("workers", 1), job["spec"].value("max_workers", 0));
}


// cnet submit
void AddSubmit(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto file = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  CLI::App* s = app.add_subcommand("submit", "submit a job spec (YAML or JSON file; - for stdin)");
  s->add_option("file", *file, "job spec")->required();
  s->add_option("--idempotency-key", *key, "retries with the same key return the original job");
  auto wait = std::make_shared<bool>(false), follow = std::make_shared<bool>(false), err = std::make_shared<bool>(false);
  s->add_flag("--wait", *wait, "wait for the job to end; exit with its outcome (0, its exit code, 124 time limit, 125 cancelled)");
  s->add_flag("--follow", *follow, "print the job's output from the start (waiting while it is pending) until it ends; exit as --wait");
  s->add_flag("--stderr", *err, "with --follow: its standard error instead of standard output");
  auto both = std::make_shared<bool>(false);
  s->add_flag("--both", *both, "with --follow: its standard output to stdout and its standard error to stderr");
  auto dry = std::make_shared<bool>(false);
  s->add_flag("--dry-run", *dry, "show every candidate site and type with its estimates (as cnet explain); submit nothing");
  auto extra = std::make_shared<SubmitFields>();
  AddSubmitFields(s, *extra);
  auto merge = std::make_shared<bool>(false), plain = std::make_shared<bool>(false);
  s->add_flag("--merge", *merge, "with --follow: its standard output and standard error both to stdout, whole lines");
  s->add_flag("--no-rank-prefix", *plain, "with --follow: drop the '[k] ' rank label from a gang's lines (local site)");
  AddConn(s, *c);
  s->callback([c, file, key, wait, follow, err, both, dry, extra, merge, plain, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    std::string text;
    if (*file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      auto t = ReadWholeFile(*file);
      if (!t.ok()) { *rc = ReportError(t.status()); return; }
      text = *t;
    }
    bool is_json = !text.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos && text[text.find_first_not_of(" \t\r\n")] == '{';
    if (Status st = ApplySubmitFields(*extra, &text, &is_json); !st.ok()) { *rc = ReportError(Status(st.code(), *file + ": " + st.message())); return; }
    if (*dry) {
      auto r = Call(*c, "POST", "/v1/jobs/dry-run", text, is_json ? "application/json" : "application/yaml");
      if (!r.ok()) { *rc = ReportError(Status(r.status().code(), *file + ": " + r.status().message())); return; }
      std::cout << (c->json_out ? r->doc.dump(2) + "\n" : FormatExplain(r->doc));
      *rc = 0;
      return;
    }
    httplib::Headers h;
    if (!key->empty()) h.emplace("Idempotency-Key", *key);
    auto r = Call(*c, "POST", "/v1/jobs", text, is_json ? "application/json" : "application/yaml", h);
    if (!r.ok()) { *rc = ReportError(Status(r.status().code(), *file + ": " + r.status().message())); return; }
    if (c->json_out && !*wait && !*follow) std::cout << r->doc.dump(2) << "\n";
    else  // with --wait/--follow stdout is the job's output, so the note goes to stderr
      (*wait || *follow ? std::cerr : std::cout) << "job " << r->doc["id"] << " " << Str(r->doc["name"]) << " "
                                                 << (r->status == 200 ? "(already submitted) " : "") << Str(r->doc["state"]) << "\n";
    *rc = 0;
    if (!*wait && !*follow) return;
    const int64_t id = r->doc["id"].get<int64_t>();
    const int strip = *plain ? Workers(r->doc) : 0;
    auto end = *follow ? FollowStreams(*c, id, *merge ? "merge" : *both ? "both" : *err ? "stderr" : "stdout", strip) : WaitForJob(*c, id);
    if (!end.ok()) { *rc = ReportError(end.status()); return; }
    if (c->json_out) std::cout << end->dump(2) << "\n";
    std::cerr << "job " << id << " " << Str((*end)["state"]) << ((*end)["exit_code"].is_null() ? "" : " exit code " + (*end)["exit_code"].dump())
              << ((*end)["reason"].is_string() && !(*end)["reason"].get<std::string>().empty() ? ": " + Str((*end)["reason"]) : "") << "\n";
    *rc = OutcomeExitCode(*end);
  });

}

// "energy   ..." for cnet show: what the site measured, or that `cnet acct` has the estimate.
std::string ShowEnergy(const json& j) {
  if (j.contains("energy") && j["energy"].is_object())
    return "energy   " + FormatNumber("%.1f", j["energy"].value("joules", 0.0)) + " J (" +
           FormatNumber("%.4f", j["energy"].value("joules", 0.0) / 3.6e6) + " kWh), measured by " +
           j["energy"].value("source", std::string()) + "\n";
  if (j["start_time"].is_null()) return "";
  return std::string("energy   not measured by its site: `cnet acct` gives the model's estimate\n");
}

// cnet show
void AddShow(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto id = std::make_shared<int64_t>(0);
  CLI::App* s = app.add_subcommand("show", "a job, its placement and its event history");
  s->add_option("id", *id, "job id")->required();
  AddConn(s, *c);
  s->callback([c, id, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    auto r = Call(*c, "GET", "/v1/jobs/" + std::to_string(*id));
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    const json& j = r->doc;
    if (c->json_out) { std::cout << j.dump(2) << "\n"; *rc = 0; return; }
    std::cout << "job " << j["id"] << "  " << Str(j["name"]) << "  tenant " << Str(j["tenant"]) << "\n"
              << "state    " << Str(j["state"]) << (j["exit_code"].is_null() ? "" : "  exit code " + j["exit_code"].dump()) << "\n"
              << "reason   " << Str(j["reason"]) << "\n"
              << (j.contains("estimated_start") ? "starts   ~" + EstimatedTime(j["estimated_start"]) + " (estimated, from its reservation)\n"
                                                : std::string())
              << "site     " << Str(j["site"]) << "  placement " << Str(j["placement"]) << "\n"
              << (j.contains("site_job") && j["site_job"].is_object()
                      ? "site job " + j["site_job"].value("kind", std::string()) + " " +
                            j["site_job"].value("id", std::string()) +
                            (j["site_job"].contains("cluster") ? " on cluster " + j["site_job"].value("cluster", std::string()) : "") + "\n"
                      : std::string())
              << ShowEnergy(j)
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
  auto id = std::make_shared<std::string>();
  CLI::App* s = app.add_subcommand("cancel", "cancel a job (an array's id: every task; ARRAY_INDEX: one task)");
  s->add_option("id", *id, "job id, array id or ARRAY_INDEX")->required();
  AddConn(s, *c);
  s->callback([c, id, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    auto ref = ResolveJobRef(*c, *id);
    if (!ref.ok()) { *rc = ReportError(ref.status()); return; }
    auto r = Call(*c, "POST", ActionPath(*ref, "cancel"));
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << (c->json_out ? r->doc.dump(2) : "job " + *id + ": " + r->doc.value("message", Str(r->doc["state"]))) << "\n";
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
  s->add_flag("-f,--follow", *follow, "keep printing until the job ends (waiting while it is pending); exit with its outcome as `submit --wait`");
  s->add_flag("--stderr", *err, "standard error instead of standard output");
  auto both = std::make_shared<bool>(false);
  s->add_flag("--both", *both, "with -f: standard output to stdout and standard error to stderr");
  auto merge = std::make_shared<bool>(false), plain = std::make_shared<bool>(false);
  s->add_flag("--merge", *merge, "with -f: standard output and standard error both to stdout, whole lines");
  s->add_flag("--no-rank-prefix", *plain, "drop the '[k] ' rank label from a gang's lines (local site)");
  auto attempt = std::make_shared<int>(0);
  s->add_option("--attempt", *attempt, "an earlier attempt's output (after a requeue or a resize; default: the latest)")
      ->check(CLI::PositiveNumber);
  AddConn(s, *c);
  s->callback([c, id, follow, err, both, merge, plain, attempt, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    if ((*merge || *both) && !*follow) { *rc = ReportError(InvalidArgument("--merge and --both need -f (--follow)")); return; }
    if (*attempt > 0 && *follow) { *rc = ReportError(InvalidArgument("--attempt: an earlier attempt cannot be followed")); return; }
    int strip = 0;
    if (*plain) {  // the gang's size says which labels are the site's
      auto j = Call(*c, "GET", "/v1/jobs/" + std::to_string(*id));
      if (!j.ok()) { *rc = ReportError(j.status()); return; }
      strip = Workers(j->doc);
    }
    if (*follow) {
      auto end = FollowStreams(*c, *id, *merge ? "merge" : *both ? "both" : *err ? "stderr" : "stdout", strip);
      *rc = end.ok() ? OutcomeExitCode(*end) : ReportError(end.status());
      return;
    }
    LogWriter out(stdout, strip, nullptr);
    auto made = MakeClient(c->addr, c->ca_file);
    if (!made.ok()) { *rc = ReportError(made.status()); return; }
    httplib::Client& cli = **made;
    cli.set_read_timeout(3600, 0);
    httplib::Headers h;
    if (!c->token.empty()) h.emplace("Authorization", "Bearer " + c->token);
    std::string path = "/v1/jobs/" + std::to_string(*id) + "/logs?stream=" + (*err ? "stderr" : "stdout") +
                       (*attempt > 0 ? "&attempt=" + std::to_string(*attempt) : "");
    std::string errbody;
    int status = 0;
    auto r = cli.Get(path, h,
                     [&](const httplib::Response& res) { status = res.status; return true; },
                     [&](const char* data, size_t n) {
                       if (status >= 400) errbody.append(data, n);
                       else out.Write(data, n);
                       return true;
                     });
    out.Finish();
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
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
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
  auto since = std::make_shared<std::string>(), until = std::make_shared<std::string>();
  s->add_option("--since", *since, "accounted usage per tenant from then (epoch s, YYYY-MM-DD[THH:MM[:SS]] UTC, or 2h ago)");
  s->add_option("--until", *until, "... until then (default: now)");
  AddConn(s, *c);
  s->callback([c, tenant, since, until, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    if (!since->empty() || !until->empty()) {
      Status st = PrintWindowUsage(*c, *tenant, *since, *until);
      *rc = st.ok() ? 0 : ReportError(st);
      return;
    }
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
    if (Status st = Resolve(a->c); !st.ok()) { *rc = ReportError(st); return; }
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
    if (Status st = Resolve(*lc); !st.ok()) { *rc = ReportError(st); return; }
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
    if (Status st = Resolve(*rcn); !st.ok()) { *rc = ReportError(st); return; }
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
  AddPowerCommands(ad, rc);
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
    if (Status st = Resolve(*c2); !st.ok()) { *rc = ReportError(st); return; }
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
  AddShow(app, rc);
  AddCancel(app, rc);
  AddLogs(app, rc);
  AddSites(app, rc);
  AddUsage(app, rc);
  AddAdmin(app, rc);
}

}  // namespace cnet
