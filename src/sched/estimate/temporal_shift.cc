#include "sched/estimate/temporal_shift.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/strings.h"

namespace cnet {

std::vector<ShiftOption> ShiftOptionsFor(const JobRecord& j, const Cluster& cl, const Catalogue& cat,
                                         const PlacementRules& rules, Seconds now) {
  std::vector<ShiftOption> out;
  const JobSpec& job = j.spec;
  for (AccelId a : cl.accel_types()) {
    if (!rules.AllowsType(job, a)) continue;
    int biggest = 0;
    for (NodeId n : cl.NodesWith(a)) biggest = std::max(biggest, cl.node(n).accel_count);
    const double rate = job.workers <= biggest ? j.RateOn(a, 1) : j.RateOn(a, 2);
    if (rate <= 0) continue;
    for (const Site& site : cl.sites()) {
      bool allowed = false;
      for (NodeId n : cl.NodesWith(a)) allowed = allowed || (cl.node(n).site == site.id && rules.AllowsNode(job, cl.node(n)));
      if (!allowed) continue;
      ShiftOption o;
      o.site = site.name;
      o.accel = a;
      o.accel_name = cat.Get(a).name;
      o.run_s = j.Remaining(now) / rate;
      o.energy_kwh = RunEnergyKwh(cat.Get(a), job.workers, o.run_s);
      out.push_back(std::move(o));
    }
  }
  return out;
}

namespace {

std::string Kg(double g) { return FormatNumber("%.3g", g / 1000) + " kgCO2eq"; }
std::string HoursText(Seconds s) { return FormatNumber("%+.1f", s / 3600) + " h"; }

}  // namespace

ShiftPlan PlanStart(const SiteCarbon& carbon, const std::vector<ShiftOption>& options, const JobSpec& job, Seconds now,
                    const ShiftOptions& o) {
  ShiftPlan p;
  p.start_s = now;
  if (!job.deadline_s) {
    p.reason = "no deadline: no slack to wait in";
    return p;
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double best_now = kInf, best = kInf;
  const ShiftOption* best_opt = nullptr;
  const ShiftOption* now_opt = nullptr;
  Seconds best_start = now, best_latest = now;
  for (const ShiftOption& opt : options) {
    const Seconds latest = *job.deadline_s - opt.run_s * (1 + o.margin) - o.margin_s;
    auto grams = [&](Seconds s) { return opt.energy_kwh * carbon.ForecastAverage(opt.site, s, s + opt.run_s, now); };
    if (now + opt.run_s <= *job.deadline_s) {
      const double g = grams(now);
      if (g < best_now) best_now = g, now_opt = &opt;
    }
    const Seconds last = std::min(latest, now + o.horizon_s);
    size_t k = 0;
    for (Seconds s = now; s <= last; s += o.step_s, ++k) {
      const double g = grams(s);
      if (g < best) best = g, best_start = s, best_latest = latest, best_opt = &opt;
      if (k >= p.considered.size()) p.considered.push_back({s, g, opt.site, opt.accel_name});
      else if (g < p.considered[k].g) p.considered[k] = {s, g, opt.site, opt.accel_name};
    }
  }
  if (!now_opt) {
    p.reason = "no option finishes by the deadline even starting now: start now";
    return p;
  }
  p.g_now = p.g_planned = best_now;
  p.site = now_opt->site;
  p.accel = now_opt->accel_name;
  if (!best_opt || best_start <= now || best > best_now * (1 - o.min_gain)) {
    p.reason = best_opt ? "no window within the slack is predicted to save " + FormatNumber("%g", o.min_gain * 100) +
                              "% or more: start now"
                        : "too little slack to wait (deadline - run x " + FormatNumber("%g", 1 + o.margin) + " - " +
                              FormatNumber("%g", o.margin_s / 60) + " min is before now): start now";
    return p;
  }
  p.wait = true;
  p.start_s = best_start;
  p.site = best_opt->site;
  p.accel = best_opt->accel_name;
  p.g_planned = best;
  p.latest_start_s = best_latest;
  p.reason = "waits until " + HoursText(best_start - now) + " for a lower-carbon window at " + p.site + "/" + p.accel +
             ": predicted " + Kg(best) + " vs " + Kg(best_now) + " now (" +
             FormatNumber("%.0f", (best / best_now - 1) * 100) + "%); latest safe start " + HoursText(best_latest - now) +
             " (deadline " + HoursText(*job.deadline_s - now) + ")";
  return p;
}

}  // namespace cnet
