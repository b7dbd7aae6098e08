// `cnet data register|ls|show|update|grant|revoke|rm` (the /v1/datasets API) and `cnet audit ls`
// (a dataset's audit log, for its owner) and `cnet audit verify` (the hash chain, offline, from
// the SQLite file). docs/data.md.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/client_conn.h"
#include "cli/commands.h"
#include "store/dataset_store.h"

namespace cnet {

namespace {

using nlohmann::json;

struct DataOpts {
  Conn c;
  std::string name, tenant, policy;
  int64_t size = -1;
  std::vector<std::string> replicas, purposes;
  double expires = -1;
  bool enforce_running = false;  // --enforce-running: stop running jobs the change denies
};

constexpr const char* kEnforceHelp =
    "also stop running jobs the change takes off their site: queued again under the new policy, "
    "cancelled where it allows no site (default: they keep their run, reported)";

Result<json> ReplicaMap(const std::vector<std::string>& specs) {
  json m = json::object();
  for (const auto& r : specs) {
    size_t eq = r.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgument("--replica: expected SITE=PATH, got '" + r + "'");
    m[r.substr(0, eq)] = r.substr(eq + 1);
  }
  return m;
}

void PrintDataset(const json& d) {
  std::cout << "dataset  " << Str(d["name"]) << "  owner " << Str(d["owner"]) << "\n"
            << "size     " << d["size_bytes"] << " bytes\n"
            << "policy   " << Str(d["policy"]) << "  (version " << d["policy_version"] << ")\n"
            << "replicas " << d["replicas"].dump() << "\n"
            << "purposes " << d["purposes"].dump() << "  expires " << Time(d["expires"]) << "\n";
  for (const auto& g : d["grants"])
    std::cout << "grant    " << Str(g["tenant"]) << (g["policy"].is_null() ? "" : " under " + Str(g["policy"])) << "\n";
}

// Runs one request and prints the dataset it returns (or --json).
int Show(const Conn& c, const Result<Reply>& r) {
  if (!r.ok()) return ReportError(r.status());
  if (c.json_out) std::cout << r->doc.dump(2) << "\n";
  else PrintDataset(r->doc);
  return 0;
}

void AddWithConn(CLI::App* s, std::shared_ptr<DataOpts> o, int* rc, std::function<int(DataOpts&)> run) {
  AddConn(s, o->c);
  s->callback([o, rc, run] {
    if (Status st = Resolve(o->c); !st.ok()) { *rc = ReportError(st); return; }
    *rc = run(*o);
  });
}

void AddRegister(CLI::App* data, int* rc) {
  auto o = std::make_shared<DataOpts>();
  CLI::App* s = data->add_subcommand("register", "register a dataset you own");
  s->add_option("name", o->name, "dataset name")->required();
  s->add_option("--size", o->size, "size in bytes");
  s->add_option("--policy", o->policy, "residency expression, e.g. 'country=CN & security_level>=3' (default *)");
  s->add_option("--replica", o->replicas, "SITE=PATH where a copy is (repeatable)");
  s->add_option("--purpose", o->purposes, "a purpose the data may be used for (repeatable)");
  s->add_option("--expires", o->expires, "epoch seconds after which jobs may no longer read it");
  AddWithConn(s, o, rc, [](DataOpts& o) {
    json b{{"name", o.name}};
    if (o.size >= 0) b["size_bytes"] = o.size;
    if (!o.policy.empty()) b["policy"] = o.policy;
    auto rep = ReplicaMap(o.replicas);
    if (!rep.ok()) return ReportError(rep.status());
    if (!o.replicas.empty()) b["replicas"] = *rep;
    if (!o.purposes.empty()) b["purposes"] = o.purposes;
    if (o.expires >= 0) b["expires"] = o.expires;
    return Show(o.c, Call(o.c, "POST", "/v1/datasets", b.dump()));
  });
}

void AddUpdate(CLI::App* data, int* rc) {
  auto o = std::make_shared<DataOpts>();
  CLI::App* s = data->add_subcommand("update", "change a dataset you own (queued jobs that read it are re-checked)");
  s->add_option("name", o->name, "dataset name")->required();
  s->add_option("--size", o->size, "size in bytes");
  s->add_option("--policy", o->policy, "new residency expression");
  s->add_option("--replica", o->replicas, "SITE=PATH (repeatable; replaces the replicas)");
  s->add_option("--expires", o->expires, "epoch seconds (0: never)");
  s->add_flag("--enforce-running", o->enforce_running, kEnforceHelp);
  AddWithConn(s, o, rc, [](DataOpts& o) {
    json b = json::object();
    if (o.enforce_running) b["enforce_running"] = true;
    if (o.size >= 0) b["size_bytes"] = o.size;
    if (!o.policy.empty()) b["policy"] = o.policy;
    auto rep = ReplicaMap(o.replicas);
    if (!rep.ok()) return ReportError(rep.status());
    if (!o.replicas.empty()) b["replicas"] = *rep;
    if (o.expires >= 0) b["expires"] = o.expires;
    return Show(o.c, Call(o.c, "PATCH", "/v1/datasets/" + o.name, b.dump()));
  });
}

void AddLs(CLI::App* data, int* rc) {
  auto o = std::make_shared<DataOpts>();
  CLI::App* s = data->add_subcommand("ls", "datasets you own or were granted");
  AddWithConn(s, o, rc, [](DataOpts& o) {
    auto r = Call(o.c, "GET", "/v1/datasets");
    if (!r.ok()) return ReportError(r.status());
    if (o.c.json_out) { std::cout << r->doc.dump(2) << "\n"; return 0; }
    std::printf("%-24s %-12s %16s %-4s %s\n", "NAME", "OWNER", "BYTES", "VER", "POLICY");
    for (const auto& d : r->doc["datasets"])
      std::printf("%-24s %-12s %16lld %-4lld %s\n", Str(d["name"]).c_str(), Str(d["owner"]).c_str(),
                  static_cast<long long>(d["size_bytes"].get<int64_t>()), static_cast<long long>(d["policy_version"].get<int64_t>()),
                  Str(d["policy"]).c_str());
    return 0;
  });
}

void AddSimple(CLI::App* data, int* rc) {
  auto show = std::make_shared<DataOpts>();
  CLI::App* s = data->add_subcommand("show", "a dataset, its replicas, policy and grants");
  s->add_option("name", show->name, "dataset name")->required();
  AddWithConn(s, show, rc, [](DataOpts& o) { return Show(o.c, Call(o.c, "GET", "/v1/datasets/" + o.name)); });

  auto rm = std::make_shared<DataOpts>();
  s = data->add_subcommand("rm", "remove a dataset you own (queued jobs that read it fail)");
  s->add_option("name", rm->name, "dataset name")->required();
  s->add_flag("--enforce-running", rm->enforce_running, kEnforceHelp);
  AddWithConn(s, rm, rc, [](DataOpts& o) {
    auto r = Call(o.c, "DELETE", "/v1/datasets/" + o.name + (o.enforce_running ? "?enforce_running=true" : ""));
    if (!r.ok()) return ReportError(r.status());
    std::cout << (o.c.json_out ? r->doc.dump(2) : "dataset " + o.name + " removed") << "\n";
    return 0;
  });

  auto grant = std::make_shared<DataOpts>();
  s = data->add_subcommand("grant", "let another tenant compute on a dataset you own");
  s->add_option("name", grant->name, "dataset name")->required();
  s->add_option("tenant", grant->tenant, "grantee tenant")->required();
  s->add_option("--policy", grant->policy, "a narrower residency expression for this grantee");
  AddWithConn(s, grant, rc, [](DataOpts& o) {
    json b = json::object();
    if (!o.policy.empty()) b["policy"] = o.policy;
    auto r = Call(o.c, "PUT", "/v1/datasets/" + o.name + "/grants/" + o.tenant, b.dump());
    if (!r.ok()) return ReportError(r.status());
    std::cout << (o.c.json_out ? r->doc.dump(2) : "granted " + o.name + " to " + o.tenant) << "\n";
    return 0;
  });

  auto revoke = std::make_shared<DataOpts>();
  s = data->add_subcommand("revoke", "withdraw a grant (the grantee's queued jobs are re-checked)");
  s->add_option("name", revoke->name, "dataset name")->required();
  s->add_option("tenant", revoke->tenant, "grantee tenant")->required();
  s->add_flag("--enforce-running", revoke->enforce_running, kEnforceHelp);
  AddWithConn(s, revoke, rc, [](DataOpts& o) {
    auto r = Call(o.c, "DELETE", "/v1/datasets/" + o.name + "/grants/" + o.tenant +
                                 (o.enforce_running ? "?enforce_running=true" : ""));
    if (!r.ok()) return ReportError(r.status());
    std::cout << (o.c.json_out ? r->doc.dump(2) : "revoked " + o.name + " from " + o.tenant) << "\n";
    return 0;
  });
}

void AddAudit(CLI::App& app, int* rc) {
  CLI::App* audit = app.add_subcommand("audit", "the residency audit log");
  audit->require_subcommand(1);
  auto o = std::make_shared<DataOpts>();
  CLI::App* ls = audit->add_subcommand("ls", "a dataset's audit records (its owner)");
  ls->add_option("--dataset", o->name, "dataset name")->required();
  AddWithConn(ls, o, rc, [](DataOpts& o) {
    auto r = Call(o.c, "GET", "/v1/datasets/" + o.name + "/audit?limit=1000");
    if (!r.ok()) return ReportError(r.status());
    if (o.c.json_out) { std::cout << r->doc.dump(2) << "\n"; return 0; }
    for (const auto& a : r->doc["records"])
      std::printf("%6lld  %s  %-9s %-8s job %-6s site %-10s v%-3lld %-5s %s\n", static_cast<long long>(a["seq"].get<int64_t>()),
                  Time(a["time"]).c_str(), Str(a["action"]).c_str(), Str(a["actor"]).c_str(), Str(a["job"]).c_str(),
                  Str(a["site"]).c_str(), static_cast<long long>(a["policy_version"].get<int64_t>()),
                  Str(a["decision"]).c_str(), Str(a["reason"]).c_str());
    return 0;
  });
  auto db = std::make_shared<std::string>();
  CLI::App* verify = audit->add_subcommand("verify", "check the audit log's hash chain offline, from the SQLite file");
  verify->add_option("db", *db, "the service's database (DATA_DIR/cnet.db)")->required();
  verify->callback([db, rc] {
    auto v = store::VerifyAuditChain(*db);
    if (!v.ok()) { *rc = ReportError(v.status()); return; }
    if (v->ok) {
      std::cout << *db << ": audit log intact, " << v->records << " record(s)\n";
      *rc = 0;
    } else {
      std::cout << *db << ": audit log broken: " << v->why << "\n";  // why names the record
      *rc = 1;
    }
  });
}

}  // namespace

void AddDataCommands(CLI::App& app, int* rc) {
  CLI::App* data = app.add_subcommand("data", "datasets: residency policies and grants (docs/data.md)");
  data->require_subcommand(1);
  AddRegister(data, rc);
  AddUpdate(data, rc);
  AddLs(data, rc);
  AddSimple(data, rc);
  AddAudit(app, rc);
}

}  // namespace cnet
