#include "service/power_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "common/strings.h"
#include "common/utc_time.h"
#include "service/wait_reasons.h"

namespace cnet::service {
namespace {

constexpr double kDay = 86400;

// "HH:MM[:SS][Z]" -> {daily, seconds after midnight}; a date-time (common/utc_time.h) ->
// {dated, epoch seconds}.
std::optional<std::pair<bool, double>> ParseWhen(std::string s) {
  if (std::optional<int64_t> at = ParseUtcDateTime(s)) return std::make_pair(false, static_cast<double>(*at));
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  if (std::optional<int> t = ParseTimeOfDay(s)) return std::make_pair(true, static_cast<double>(*t));
  return std::nullopt;
}

std::string Kw(double kw) { return FormatNumber("%g", kw) + " kW"; }

}  // namespace

bool BudgetWindow::Open(double now) const {
  if (!daily) return now >= from && now < to;
  const double t = std::fmod(now, kDay);
  return from <= to ? (t >= from && t < to) : (t >= from || t < to);
}

double BudgetWindow::Closes(double now) const {
  if (!daily) return to;
  const double midnight = now - std::fmod(now, kDay);
  double c = midnight + to;
  if (c <= now) c += kDay;
  return c;
}

Result<std::vector<BudgetWindow>> ParsePowerBudget(const YamlCtx& c, const YAML::Node& site, const std::string& p) {
  std::vector<BudgetWindow> out;
  if (!site["power_budget"]) return out;
  CNET_ASSIGN_OR_RETURN(YAML::Node seq, YamlSeq(c, site, "power_budget", p));
  for (size_t i = 0; i < seq.size(); ++i) {
    const YAML::Node& w = seq[i];
    const std::string wp = p + ".power_budget[" + std::to_string(i) + "]";
    if (!w.IsMap()) return c.Error(w, wp, "expected a mapping {from, to, kw, reason}");
    CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, w, {"from", "to", "kw", "reason"}, wp));
    BudgetWindow b;
    const std::string none;
    CNET_ASSIGN_OR_RETURN(std::string from, YamlString(c, w, "from", wp));
    CNET_ASSIGN_OR_RETURN(std::string to, YamlString(c, w, "to", wp));
    CNET_ASSIGN_OR_RETURN(b.kw, YamlDouble(c, w, "kw", wp));
    CNET_ASSIGN_OR_RETURN(b.reason, YamlString(c, w, "reason", wp, &none));
    auto f = ParseWhen(from), t = ParseWhen(to);
    const char* form = "a time of day HH:MM (daily, UTC) or YYYY-MM-DDTHH:MM (once, UTC)";
    if (!f) return c.Error(w["from"], wp + ".from", form);
    if (!t) return c.Error(w["to"], wp + ".to", form);
    if (f->first != t->first) return c.Error(w["to"], wp + ".to", "both ends daily (HH:MM) or both dated");
    if (!f->first && t->second <= f->second) return c.Error(w["to"], wp + ".to", "must be after 'from'");
    if (f->first && t->second == f->second) return c.Error(w["to"], wp + ".to", "an empty window");
    if (!(b.kw >= 0)) return c.Error(w["kw"], wp + ".kw", "must be >= 0");
    b.daily = f->first;
    b.from = f->second;
    b.to = t->second;
    out.push_back(std::move(b));
  }
  return out;
}

void PowerBudgets::AddSite(const std::string& site, double cap_kw, std::vector<BudgetWindow> windows) {
  std::lock_guard l(mu_);
  Site& s = sites_[site];
  s.cap_kw = cap_kw;
  s.windows = std::move(windows);
}

bool PowerBudgets::Has(const std::string& site) const {
  std::lock_guard l(mu_);
  return sites_.count(site) > 0;
}

Status PowerBudgets::Check(const std::string& site, std::optional<double> kw) const {
  if (kw && !(*kw >= 0 && std::isfinite(*kw))) return InvalidArgument("kw: a number of kilowatts >= 0");
  if (!Has(site)) return NotFound("site '" + site + "': no such site");
  return Status::Ok();
}

Status PowerBudgets::SetOverride(const std::string& site, std::optional<double> kw, const std::string& reason,
                                 const std::string& by, double now) {
  CNET_RETURN_IF_ERROR(Check(site, kw));
  std::lock_guard l(mu_);
  auto it = sites_.find(site);
  if (it == sites_.end()) return NotFound("site '" + site + "': no such site");
  it->second.override_kw = kw;
  it->second.override_reason = kw ? (reason.empty() ? "set by " + by : reason + ", set by " + by) + " at " + UtcClock(now) : "";
  return Status::Ok();
}

std::optional<BudgetInForce> PowerBudgets::InForceLocked(const Site& s, double now) const {
  std::optional<BudgetInForce> best;
  auto consider = [&](double kw, const std::string& why) {
    if (kw < s.cap_kw && (!best || kw < best->kw)) best = BudgetInForce{kw, "power budget " + Kw(kw) + " (" + why + ")"};
  };
  if (s.override_kw) consider(*s.override_kw, s.override_reason);
  for (const BudgetWindow& w : s.windows)
    if (w.Open(now))
      consider(w.kw, (w.reason.empty() ? std::string("power budget window") : w.reason) + ", until " + UtcClock(w.Closes(now)));
  return best;
}

std::optional<BudgetInForce> PowerBudgets::InForce(const std::string& site, double now) const {
  std::lock_guard l(mu_);
  auto it = sites_.find(site);
  if (it == sites_.end()) return std::nullopt;
  return InForceLocked(it->second, now);
}

std::vector<PowerBudgets::SiteView> PowerBudgets::View(double now) const {
  std::lock_guard l(mu_);
  std::vector<SiteView> out;
  for (const auto& [name, s] : sites_)
    out.push_back({name, s.cap_kw, s.override_kw, s.override_reason, s.windows, InForceLocked(s, now)});
  return out;
}

}  // namespace cnet::service
