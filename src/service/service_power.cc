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
  CNET_RETURN_IF_ERROR(st_->power.Check(site, kw));
  // Committed before it takes effect or is answered: a restart keeps it (LoadPowerOverrides).
  Status w = kw ? store_->PutPowerOverride({site, *kw, reason, by, now}) : store_->ClearPowerOverride(site);
  if (!w.ok()) return Unavailable("store: the power budget could not be recorded: " + w.message());
  CNET_RETURN_IF_ERROR(st_->power.SetOverride(site, kw, reason, by, now));
  deps_.log->info("audit: {} {} the power budget of site {}{}", by, kw ? "set" : "cleared", site,
                  kw ? " to " + std::to_string(*kw) + " kW" : "");
  loop_->Wake();
  for (PowerBudgets::SiteView& v : st_->power.View(now))
    if (v.site == site) return v;
  return NotFound("site '" + site + "': no such site");
}

Status Service::LoadPowerOverrides() {
  auto rows = store_->PowerOverrides();
  if (!rows.ok()) return Unavailable("store: power budget overrides: " + rows.status().message());
  for (const store::PowerOverrideRow& o : *rows) {
    if (!st_->power.Has(o.site)) {  // kept: the site may come back in the config
      deps_.log->warn("power budget override of site {} ({} kW) ignored: no such site in the config", o.site, o.kw);
      continue;
    }
    CNET_RETURN_IF_ERROR(st_->power.SetOverride(o.site, o.kw, o.reason, o.set_by, o.set_at));
    deps_.log->info("site {}: power budget override {} kW, set by {}, kept from before the restart", o.site, o.kw, o.set_by);
  }
  return Status::Ok();
}

}  // namespace cnet::service
