#include "service/power_limits.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"

namespace cnet::service {
namespace {

std::string Kw(double w) { return FormatNumber("%.3g", w / 1000) + " kW"; }

}  // namespace

bool ApplyPowerBudgets(LoopState& st) {
  const double now = st.clock.Now();
  bool changed = false;
  for (const Rack& r : st.cluster->racks()) {
    const std::string& site = st.cluster->site(r.site).name;
    const std::optional<BudgetInForce> b = st.power.InForce(site, now);
    const double w = b ? b->kw * 1000 : HUGE_VAL;
    const Capacity& cap = st.sched->capacity();
    if (cap.RackBudgetW(r.id) != w) {
      st.sched->SetRackBudgetW(r.id, w);
      changed = true;
      st.log->info("site {}: {}", site, b ? b->why : "no power budget in force; its cap rules");
    }
    const std::string label = "site=\"" + site + "\"";
    st.metrics.SetGauge("cnet_site_power_limit_watts", label, std::min(cap.RackCapW(r.id), w));
    st.metrics.SetGauge("cnet_site_power_draw_watts", label, cap.RackDrawW(r.id));
  }
  return changed;
}

namespace {

std::vector<std::pair<std::string, SiteOutage>> LimitedSites(const LoopState& st) {
  std::vector<std::pair<std::string, SiteOutage>> out;
  const Capacity& cap = st.sched->capacity();
  const double now = st.clock.Now();
  std::vector<double> least_delta(st.cluster->racks().size(), HUGE_VAL);  // the cheapest package to start there
  for (const Node& n : st.cluster->nodes())
    if (n.accel.valid()) least_delta[n.rack.value()] = std::min(least_delta[n.rack.value()], cap.BusyDeltaW(n.accel));
  for (const Rack& r : st.cluster->racks()) {
    const std::string& site = st.cluster->site(r.site).name;
    const std::optional<BudgetInForce> b = st.power.InForce(site, now);
    const bool full = cap.RackHeadroomW(r.id) < least_delta[r.id.value()];
    if (!b && !full) continue;
    std::string text = "site " + site + ": " + (b ? b->why : "power cap " + Kw(cap.RackCapW(r.id)) + " reached") +
                       ", drawing " + Kw(cap.RackDrawW(r.id));
    if (full) text += ": new work there waits for power";
    out.push_back({site, SiteOutage{site, 0, text}});
  }
  return out;
}

}  // namespace

PowerBook::PowerBook(const LoopState& st) : book_(*st.cluster, LimitedSites(st)) {}

std::string PowerBook::With(const std::string& reason, const JobSpec& job) const {
  bool all = false;
  const std::vector<const SiteOutage*> limited = book_.For(job, &all);
  if (limited.empty()) return reason;
  std::string t;
  for (const SiteOutage* o : limited) t += (t.empty() ? "" : "; ") + o->reason;
  return all ? "waiting for power: " + t + "; " + reason : reason + "; " + t;
}

}  // namespace cnet::service
