// A site's power budget over time (docs/energy.md, "Power caps and budgets"). Every site is one
// rack of the model whose cap is its power_cap_kw (accelerator board power: every package at idle
// plus board - idle for each busy one, as in the simulator); a budget is a lower, temporary limit:
//   - windows from the config (`power_budget:` in a site's block), daily ("17:00".."19:00", UTC)
//     or once ("2026-12-01T17:00".."2026-12-01T19:00", UTC), each with its kW and reason;
//   - an admin's override (`cnet admin power-budget`, PUT /v1/admin/sites/{site}/power-budget),
//     kept in the store until cleared (a restart keeps it).
// The limit in force is the least of the cap, the override and every window open now. Running
// work is never stopped: a budget below the draw only keeps new work waiting, with the reason.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "model/yaml_util.h"

namespace cnet::service {

struct BudgetWindow {
  bool daily = true;
  double from = 0, to = 0;  // daily: seconds after 00:00 UTC (to < from spans midnight); else epoch s
  double kw = 0;
  std::string reason;       // "" = "power budget window"
  bool Open(double now) const;
  double Closes(double now) const;  // when an open window next closes (epoch s)
};

// `power_budget:` of a site's block at path p: a list of {from, to, kw, reason}; errors name the
// file, line and field. An absent key: no windows.
Result<std::vector<BudgetWindow>> ParsePowerBudget(const YamlCtx& c, const YAML::Node& site, const std::string& p);

// The limit in force on a site at a time.
struct BudgetInForce {
  double kw = 0;
  std::string why;    // "power budget 5 kW (grid demand response, until 19:00 UTC)"
};

// Thread-safe: the admin's calls come from HTTP threads, the loop reads it every tick.
class PowerBudgets {
 public:
  void AddSite(const std::string& site, double cap_kw, std::vector<BudgetWindow> windows);
  bool Has(const std::string& site) const;
  // What SetOverride would refuse: kNotFound (no such site), kInvalidArgument (kw < 0, not finite).
  Status Check(const std::string& site, std::optional<double> kw) const;
  // kw nullopt clears the override. kNotFound: no such site; kInvalidArgument: kw < 0.
  Status SetOverride(const std::string& site, std::optional<double> kw, const std::string& reason,
                     const std::string& by, double now);
  // A budget below the site's cap, if one is in force at `now`.
  std::optional<BudgetInForce> InForce(const std::string& site, double now) const;

  struct SiteView {
    std::string site;
    double cap_kw = 0;
    std::optional<double> override_kw;
    std::string override_reason;
    std::vector<BudgetWindow> windows;
    std::optional<BudgetInForce> in_force;
  };
  std::vector<SiteView> View(double now) const;

 private:
  struct Site {
    double cap_kw = 0;
    std::vector<BudgetWindow> windows;
    std::optional<double> override_kw;
    std::string override_reason;
  };
  std::optional<BudgetInForce> InForceLocked(const Site& s, double now) const;
  mutable std::mutex mu_;
  std::map<std::string, Site> sites_;  // guarded by mu_
};

}  // namespace cnet::service
