#include "service/acct.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

namespace cnet::service {

namespace {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

}  // namespace

double EstimatedEnergyJ(const AcceleratorSpec& type, int packages, double elapsed_s) {
  return type.board_power_w * packages * elapsed_s;
}

AcctRow Account(const store::JobRow& row, const api::JobRequest& req, const Catalogue& cat, const SiteEconomics& econ,
                const Prediction& pred, double now) {
  AcctRow r;
  r.id = row.id;
  r.tenant = row.tenant;
  r.name = row.name;
  r.state = store::StateName(row.state);
  r.site = row.site;
  r.submit = row.submit_time;
  r.start = row.start_time;
  r.end = row.end_time;
  r.packages = req.accelerators_per_worker > 0 ? req.TotalAccelerators() : req.workers * req.cpus_per_worker;
  if (!row.placement_json.empty()) {
    nlohmann::json p = nlohmann::json::parse(row.placement_json, nullptr, false);
    if (p.is_object() && p.contains("accelerator") && p["accelerator"].is_string()) r.type = p["accelerator"].get<std::string>();
  }
  if (r.start > 0) r.elapsed_s = std::max(0.0, (r.end > 0 ? r.end : now) - r.start);
  r.accel_hours = r.packages * r.elapsed_s / 3600;
  if (std::optional<AccelId> a = r.type.empty() ? std::nullopt : cat.Find(r.type)) {
    r.cost_usd = econ.PriceUsdPerHour(cat, r.site, *a) * r.accel_hours;
    r.energy_j = EstimatedEnergyJ(cat.Get(*a), r.packages, r.elapsed_s);
    r.energy_source = "estimated";
  }
  if (!row.energy_source.empty()) {
    r.energy_j = row.energy_j;
    r.energy_source = row.energy_source;
  }
  r.stage_in_bytes = row.stage_in_bytes;
  r.stage_in_s = row.stage_in_s;
  r.energy_kwh = r.energy_j / 3.6e6;
  if (pred.has_estimate && pred.rate > 0 && pred.total_steps > 0) {
    r.predicted_run_s = pred.total_steps / pred.rate;
    if (row.state == store::JobState::kSucceeded && r.elapsed_s > 0)
      r.run_error = (*r.predicted_run_s - r.elapsed_s) / r.elapsed_s;
  }
  return r;
}

AcctRow ClipToWindow(const AcctRow& r, double since, double until) {
  AcctRow c = r;
  if (r.start <= 0 || r.elapsed_s <= 0) return c;
  const double from = std::max(r.start, since), to = std::min(r.start + r.elapsed_s, until);
  const double f = to > from ? (to - from) / r.elapsed_s : 0;
  c.accel_hours *= f;
  c.cost_usd *= f;
  c.energy_kwh *= f;
  c.energy_j *= f;
  return c;
}

std::vector<UsageRow> Usage(const std::vector<AcctRow>& rows, double since, double until) {
  std::map<std::string, UsageRow> by;
  UsageRow total;
  for (const AcctRow& raw : rows) {
    const AcctRow r = ClipToWindow(raw, since, until);
    for (UsageRow* u : {&by[r.tenant], &total}) {
      ++u->jobs;
      u->accel_hours += r.accel_hours;
      u->cost_usd += r.cost_usd;
      u->energy_kwh += r.energy_kwh;
      (r.energy_source == "estimated" ? u->energy_estimated_kwh : u->energy_measured_kwh) += r.energy_kwh;
      if (!r.type.empty()) u->accel_hours_by_type[r.type] += r.accel_hours;
    }
  }
  std::vector<UsageRow> out;
  for (auto& [t, u] : by) {
    u.tenant = t;
    out.push_back(std::move(u));
  }
  out.push_back(std::move(total));
  return out;
}

ErrorSummary RunTimeErrors(const std::vector<AcctRow>& rows) {
  std::vector<double> abs, sig;
  for (const AcctRow& r : rows)
    if (r.run_error) {
      abs.push_back(std::fabs(*r.run_error));
      sig.push_back(*r.run_error);
    }
  ErrorSummary e;
  e.jobs = abs.size();
  e.median_abs = Quantile(abs, 0.5);
  e.p90_abs = Quantile(abs, 0.9);
  e.median = Quantile(sig, 0.5);
  return e;
}

}  // namespace cnet::service
