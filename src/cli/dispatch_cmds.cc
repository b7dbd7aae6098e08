#include "cli/dispatch_cmds.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/duration.h"
#include "common/strings.h"

namespace cnet {

namespace {

using nlohmann::json;

// "45s", "12m", "3.5h", "2.0d".
std::string Dur(double s) {
  char b[32];
  if (s < 90) std::snprintf(b, sizeof b, "%.0fs", s);
  else if (s < 5400) std::snprintf(b, sizeof b, "%.0fm", s / 60);
  else if (s < 172800) std::snprintf(b, sizeof b, "%.1fh", s / 3600);
  else std::snprintf(b, sizeof b, "%.1fd", s / 86400);
  return b;
}

double Num(const json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0; }

std::string Fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

double NowEpoch() { return static_cast<double>(std::time(nullptr)); }

}  // namespace

std::string FormatExplain(const json& doc) {
  std::ostringstream o;
  if (doc.contains("id"))
    o << "job " << doc["id"] << "  " << Str(doc["state"]) << "  objective " << Str(doc["objective"]);
  else
    o << "dry run (nothing submitted)  objective " << Str(doc["objective"]);
  if (doc.contains("deadline") && doc["deadline"].is_number())
    o << "  deadline in " << Dur(Num(doc, "deadline") - Num(doc, "now"));
  if (doc.contains("budget_usd")) o << "  budget $" << Fixed(Num(doc, "budget_usd"), 2);
  o << "\n";
  if (doc.contains("note")) o << "note: " << Str(doc["note"]) << "\n";
  if (doc.contains("reason")) o << "pick: " << Str(doc["reason"]) << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-14s %-10s %5s %8s %8s %8s %8s %10s %8s %9s\n", "SITE", "TYPE", "NODES", "START", "STAGE-IN",
                "RUN", "FINISH", "COST $", "KWH", "GCO2EQ");
  o << line;
  for (const json& c : doc["candidates"]) {
    const char* mark = c.value("dispatched", false) ? ">" : c.value("chosen", false) ? "*" : " ";
    if (!c.value("feasible", false)) {
      std::snprintf(line, sizeof line, "%s %-14.14s %-10.10s  rejected: ", mark, Str(c["site"]).c_str(), Str(c["accelerator"]).c_str());
      o << line << Str(c["rejected"]) << "\n";
      continue;
    }
    std::snprintf(line, sizeof line, "%s %-14.14s %-10.10s %5d %8s %8s %8s %8s %10s %8s %9s%s\n", mark, Str(c["site"]).c_str(),
                  Str(c["accelerator"]).c_str(), c.value("nodes", 0), ("+" + Dur(Num(c, "start_in_s"))).c_str(),
                  Dur(Num(c, "stage_in_s")).c_str(), Dur(Num(c, "run_s")).c_str(), ("+" + Dur(Num(c, "finish_in_s"))).c_str(),
                  Fixed(Num(c, "cost_usd"), 2).c_str(), Fixed(Num(c, "energy_kwh"), 2).c_str(),
                  c.contains("carbon_g") ? Fixed(Num(c, "carbon_g"), 0).c_str() : "-",
                  c.value("predicted_rate", false) ? "  (predicted speed)" : "");
    o << line;
  }
  o << "* the objective's pick" << (doc.contains("id") ? "; > where it was dispatched" : "")
    << ". START and FINISH are from now; starts count running jobs, not jobs queued ahead.\n";
  if (doc.contains("shift") && doc["shift"].is_object()) {
    const json& s = doc["shift"];
    o << "temporal shifting: " << Str(s["reason"]) << "\n";
    if (s.contains("considered") && !s["considered"].empty()) {
      o << "  starts weighed (from now: least predicted gCO2eq of the options):\n";
      int k = 0;
      for (const json& c : s["considered"]) {
        std::snprintf(line, sizeof line, "  +%-7s %9s", Dur(Num(c, "start") - Num(doc, "now")).c_str(),
                      Fixed(Num(c, "carbon_g"), 0).c_str());
        o << line << (++k % 6 == 0 ? "\n" : "");
      }
      if (k % 6 != 0) o << "\n";
    }
  }
  return o.str();
}

Result<double> ParseWhen(const std::string& text, double now, const std::string& field) {
  if (auto v = ParseDouble(text); v && *v >= 1e8) return *v;  // epoch seconds
  std::tm tm{};
  for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = std::tm{};
    const char* end = strptime(text.c_str(), f, &tm);
    if (end && *end == '\0') return static_cast<double>(timegm(&tm));
  }
  auto d = ParseDuration(text, field);
  if (d.ok()) return now - *d;
  return InvalidArgument(field + ": expected epoch seconds, YYYY-MM-DD[THH:MM[:SS]] (UTC) or a duration ago (2h, 30d); got '" +
                         text + "'");
}

Status PrintWindowUsage(const Conn& c, const std::string& tenant, const std::string& since, const std::string& until) {
  const double now = NowEpoch();
  std::string q = "?";
  if (!since.empty()) {
    CNET_ASSIGN_OR_RETURN(double s, ParseWhen(since, now, "--since"));
    q += "since=" + Fixed(s, 3) + "&";
  }
  if (!until.empty()) {
    CNET_ASSIGN_OR_RETURN(double u, ParseWhen(until, now, "--until"));
    q += "until=" + Fixed(u, 3) + "&";
  }
  if (!tenant.empty()) q += "tenant=" + tenant + "&";
  CNET_ASSIGN_OR_RETURN(Reply r, Call(c, "GET", "/v1/acct/usage" + q.substr(0, q.size() - 1)));
  if (c.json_out) {
    std::cout << r.doc.dump(2) << "\n";
    return Status::Ok();
  }
  std::printf("usage from %s to %s\n", Time(r.doc["since"]).c_str(), Time(r.doc["until"]).c_str());
  std::printf("%-20s %6s %12s %12s %10s %10s %10s  %s\n", "TENANT", "JOBS", "ACCEL-H", "COST $", "KWH", "MEASURED",
              "ESTIMATED", "ACCEL-H BY TYPE");
  auto row = [](const std::string& name, const json& t) {
    std::string by;
    for (auto it = t["accel_hours_by_type"].begin(); it != t["accel_hours_by_type"].end(); ++it)
      by += (by.empty() ? "" : ", ") + it.key() + " " + Fixed(it.value().get<double>(), 2);
    std::printf("%-20.20s %6d %12.2f %12.2f %10.3f %10.3f %10.3f  %s\n", name.c_str(), t.value("jobs", 0),
                Num(t, "accel_hours"), Num(t, "cost_usd"), Num(t, "energy_kwh"), Num(t, "energy_measured_kwh"),
                Num(t, "energy_estimated_kwh"), by.c_str());
  };
  for (const json& t : r.doc["tenants"]) row(Str(t["tenant"]), t);
  row("TOTAL", r.doc["total"]);
  if (r.doc.value("truncated", false)) std::printf("(truncated: more jobs matched than one answer holds)\n");
  return Status::Ok();
}

namespace {

struct AcctArgs {
  Conn c;
  std::string tenant, state, since, until;
  std::string format =
      "id,tenant,name,state,site,accelerator,packages,elapsed_s,accel_hours,cost_usd,energy_kwh,energy_source,predicted_run_s,"
      "run_error";
  bool parsable = false;
};

std::string Cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return Fixed(v.get<double>(), 3);
  return v.dump();
}

Status RunAcct(const AcctArgs& a) {
  const double now = NowEpoch();
  std::string q;
  auto add = [&q](const std::string& k, const std::string& v) { q += (q.empty() ? "?" : "&") + k + "=" + v; };
  if (!a.tenant.empty()) add("tenant", a.tenant);
  if (!a.state.empty()) add("state", a.state);
  if (!a.since.empty()) {
    CNET_ASSIGN_OR_RETURN(double s, ParseWhen(a.since, now, "--since"));
    add("since", Fixed(s, 3));
  }
  if (!a.until.empty()) {
    CNET_ASSIGN_OR_RETURN(double u, ParseWhen(a.until, now, "--until"));
    add("until", Fixed(u, 3));
  }
  CNET_ASSIGN_OR_RETURN(Reply r, Call(a.c, "GET", "/v1/acct" + q));
  if (a.c.json_out) {
    std::cout << r.doc.dump(2) << "\n";
    return Status::Ok();
  }
  std::vector<std::string> cols;
  for (const std::string& f : SplitList(a.format)) cols.push_back(f);
  if (cols.empty()) return InvalidArgument("--format: no columns");
  const json known = r.doc["jobs"].empty() ? json::object() : r.doc["jobs"][0];
  static const std::vector<std::string> kFields{"id", "tenant", "name", "state", "site", "accelerator", "packages", "submit",
                                                "start", "end", "elapsed_s", "accel_hours", "cost_usd", "energy_kwh",
                                                "energy_j", "energy_source", "energy_estimated", "stage_in_bytes", "stage_in_s", "predicted_run_s",
                                                "run_error"};
  for (const auto& col : cols)
    if (std::find(kFields.begin(), kFields.end(), col) == kFields.end()) {
      std::string all;
      for (const auto& f : kFields) all += (all.empty() ? "" : ",") + f;
      return InvalidArgument("--format: unknown column '" + col + "' (columns: " + all + ")");
    }
  std::vector<std::vector<std::string>> table{{}};
  for (const auto& col : cols) {
    std::string h = col;
    for (char& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    table[0].push_back(h);
  }
  for (const json& j : r.doc["jobs"]) {
    table.emplace_back();
    for (const auto& col : cols) table.back().push_back(Cell(j.contains(col) ? j[col] : json(nullptr)));
  }
  std::vector<size_t> width(cols.size(), 0);
  for (const auto& row : table)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : table) {
    std::string out;
    for (size_t i = 0; i < row.size(); ++i) {
      if (a.parsable) out += row[i] + "|";
      else out += (i ? "  " : "") + row[i] + std::string(i + 1 < row.size() ? width[i] - row[i].size() : 0, ' ');
    }
    std::cout << out << "\n";
  }
  if (!a.parsable) {
    const json& e = r.doc["run_time_error"];
    if (e.value("jobs", 0) > 0)
      std::printf("run-time prediction error over %d succeeded job(s): median |error| %.1f%%, p90 %.1f%%, median %+.1f%%\n",
                  e.value("jobs", 0), 100 * Num(e, "median_abs"), 100 * Num(e, "p90_abs"), 100 * Num(e, "median"));
    if (r.doc.value("truncated", false)) std::printf("(truncated: more jobs matched than one answer holds)\n");
  }
  return Status::Ok();
}

}  // namespace

void AddDispatchCommands(CLI::App& app, int* rc) {
  auto c = std::make_shared<Conn>();
  auto id = std::make_shared<int64_t>(0);
  CLI::App* e = app.add_subcommand("explain", "every candidate site and type for a job: predicted start, stage-in, run time, "
                                              "finish, cost, energy, or why it is rejected");
  e->add_option("id", *id, "job id")->required();
  AddConn(e, *c);
  e->callback([c, id, rc] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    auto r = Call(*c, "GET", "/v1/jobs/" + std::to_string(*id) + "/explain");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    std::cout << (c->json_out ? r->doc.dump(2) + "\n" : FormatExplain(r->doc));
    *rc = 0;
  });

  auto a = std::make_shared<AcctArgs>();
  CLI::App* s = app.add_subcommand("acct", "per-job accounting: accelerator-hours, cost, energy, predicted vs actual run time");
  s->add_option("--tenant", a->tenant, "only this tenant (admins; tenants see their own)");
  s->add_option("--state", a->state, "only jobs in this state (SUCCEEDED, FAILED, RUNNING, ...)");
  s->add_option("--since", a->since, "jobs not ended before: epoch seconds, YYYY-MM-DD[THH:MM[:SS]] (UTC) or a duration ago (2h)");
  s->add_option("--until", a->until, "jobs submitted before (same forms)");
  s->add_option("--format", a->format, "columns, comma-separated")->capture_default_str();
  s->add_flag("--parsable", a->parsable, "'|'-separated, unpadded, with a header; no summary line");
  AddConn(s, a->c);
  s->callback([a, rc] {
    if (Status st = Resolve(a->c); !st.ok()) { *rc = ReportError(st); return; }
    Status st = RunAcct(*a);
    *rc = st.ok() ? 0 : ReportError(st);
  });
}

}  // namespace cnet
