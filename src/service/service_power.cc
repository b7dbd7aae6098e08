// Service use cases for site power budgets (service/power_budget.h): read them, and an admin's
// override, which the loop applies at its next tick (ApplyPowerBudgets).
#include "service/service.h"

namespace cnet::service {

Result<std::vector<PowerBudgets::SiteView>> Service::PowerBudgetView(const Caller& c) {
  if (!c.admin) return PermissionDenied("admin role required");
  return st_->power.View(deps_.clock->Now());
}

Result<PowerBudgets::SiteView> Service::SetPowerBudget(const Caller& c, const std::string& site,
                                                       std::optional<double> kw, const std::string& reason) {
  if (!c.admin) return PermissionDenied("admin role required");
  const double now = deps_.clock->Now();
  const std::string by = c.token_id.empty() ? "admin" : "admin (token " + c.token_id + ")";
  CNET_RETURN_IF_ERROR(st_->power.SetOverride(site, kw, reason, by, now));
  deps_.log->info("audit: {} {} the power budget of site {}{}", by, kw ? "set" : "cleared", site,
                  kw ? " to " + std::to_string(*kw) + " kW" : "");
  loop_->Wake();
  for (PowerBudgets::SiteView& v : st_->power.View(now))
    if (v.site == site) return v;
  return NotFound("site '" + site + "': no such site");
}

}  // namespace cnet::service
