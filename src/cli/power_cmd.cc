// cnet admin power (every site's cap, budget windows, override and the budget in force) and
// cnet admin power-budget SITE KW|--clear (docs/energy.md, "Power caps and budgets").
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/client_conn.h"
#include "cli/commands.h"
#include "common/strings.h"

namespace cnet {
namespace {

using nlohmann::json;

// A window's end: "HH:MM:SS UTC" as given for a daily one, a dated one's epoch seconds as UTC.
std::string End(const json& t) {
  if (!t.is_number()) return Str(t);
  const std::time_t v = static_cast<std::time_t>(t.get<double>());
  std::tm tm{};
  gmtime_r(&v, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S UTC", &tm);
  return buf;
}

void PrintSite(const json& s) {
  const json& f = s["in_force"];
  std::printf("%-16s cap %8s kW  %s\n", Str(s["site"]).c_str(), FormatNumber("%g", s.value("cap_kw", 0.0)).c_str(),
              f.is_object() ? Str(f["why"]).c_str() : "no budget in force: its cap rules");
  for (const json& w : s["windows"])
    std::printf("  window %s .. %s%s: %s kW%s\n", End(w["from"]).c_str(), End(w["to"]).c_str(),
                w.value("daily", false) ? " daily" : "", FormatNumber("%g", w.value("kw", 0.0)).c_str(),
                Str(w["reason"]).empty() || Str(w["reason"]) == "-" ? "" : (" (" + Str(w["reason"]) + ")").c_str());
  if (s["override_kw"].is_number())
    std::printf("  override %s kW: %s\n", FormatNumber("%g", s["override_kw"].get<double>()).c_str(),
                Str(s["override_reason"]).c_str());
}

}  // namespace

void AddPowerCommands(CLI::App* admin, int* rc) {
  auto lc = std::make_shared<Conn>();
  CLI::App* ls = admin->add_subcommand("power", "every site's power cap, budget windows, override and the budget in force");
  AddConn(ls, *lc);
  ls->callback([lc, rc] {
    if (Status st = Resolve(*lc); !st.ok()) { *rc = ReportError(st); return; }
    auto r = Call(*lc, "GET", "/v1/admin/power");
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    if (lc->json_out) std::cout << r->doc.dump(2) << "\n";
    else for (const json& s : r->doc["sites"]) PrintSite(s);
    *rc = 0;
  });

  auto c = std::make_shared<Conn>();
  auto site = std::make_shared<std::string>();
  auto kw = std::make_shared<double>(-1);
  auto reason = std::make_shared<std::string>();
  auto clear = std::make_shared<bool>(false);
  CLI::App* b = admin->add_subcommand(
      "power-budget", "set a site's power budget in kW (running work is never stopped; new work waits), or --clear it");
  b->add_option("site", *site, "site name")->required();
  b->add_option("kw", *kw, "kilowatts the site's accelerators may draw");
  b->add_option("--reason", *reason, "why (shown in waiting jobs' reasons), e.g. 'grid demand response'");
  b->add_flag("--clear", *clear, "remove the override (windows from the config still apply)");
  AddConn(b, *c);
  b->callback([c, site, kw, reason, clear, rc] {
    if (*clear == (*kw >= 0)) { *rc = ReportError(InvalidArgument("power-budget: give either KW or --clear")); return; }
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    const std::string path = "/v1/admin/sites/" + *site + "/power-budget";
    auto r = *clear ? Call(*c, "DELETE", path) : Call(*c, "PUT", path, json{{"kw", *kw}, {"reason", *reason}}.dump());
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    if (c->json_out) std::cout << r->doc.dump(2) << "\n";
    else PrintSite(r->doc);
    *rc = 0;
  });
}

}  // namespace cnet
