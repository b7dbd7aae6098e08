#include "sched/estimate/candidates.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "common/strings.h"
#include "sched/estimate/site_carbon.h"
#include "sched/placement.h"
#include "sched/scheduler.h"

namespace cnet {

StageIn StageInAt(const StageInSource* src, const SiteEconomics& econ, const JobSpec& job, const std::string& site) {
  StageIn s;
  if (!src) return s;
  for (const Transfer& t : src->Missing(job, site)) {
    s.seconds += econ.TransferSeconds(t.from_site, site, t.bytes);
    s.egress_usd += econ.EgressUsd(t.from_site, site, t.bytes);
    s.bytes += t.bytes;
  }
  return s;
}

std::vector<Release> RunningReleases(const Scheduler& s) {
  std::vector<Release> out;
  out.reserve(s.running().size());
  for (JobId id : s.running())
    if (const JobRecord* r = s.Find(id)) out.push_back(Release{r->placement, r->ExpectedFinish()});
  return out;
}

namespace {

// Why no placement of `probe` on type a at site could ever exist, with every running job gone.
std::string NeverFits(const EstimateInput& in, const JobSpec& job, const JobSpec& probe, SiteId site, AccelId a) {
  const Cluster& cl = *in.cluster;
  const std::string& tname = in.catalogue->Get(a).name;
  int total = 0, usable = 0;
  std::string refused;
  for (NodeId n : cl.NodesWith(a)) {
    const Node& node = cl.node(n);
    if (node.site != site) continue;
    std::string why;
    if (!in.rules->AllowsNode(job, node, &why)) {
      if (refused.empty()) refused = why;
      continue;
    }
    total += node.accel_count;
    if (in.capacity->Usable(n)) usable += node.accel_count;
  }
  if (total == 0 && !refused.empty()) return refused;
  if (total < job.workers)
    return "capacity: " + cl.site(site).name + " has " + std::to_string(total) + " " + tname + " the job may use; the gang needs " +
           std::to_string(job.workers);
  if (usable < job.workers)
    return "capacity: " + std::to_string(total - usable) + " " + tname + " at " + cl.site(site).name +
           " are on nodes that are down; " + std::to_string(usable) + " usable, the gang needs " + std::to_string(job.workers);
  Capacity empty(cl, *in.catalogue);
  if (!FindPlacement(*in.rules, empty, probe, a))
    return "power cap: the racks of " + cl.site(site).name + " cannot run " + std::to_string(job.workers) + " " + tname +
           " busy at once";
  return "capacity: no placement of " + std::to_string(job.workers) + " " + tname + " at " + cl.site(site).name +
         " (node shapes or units)";
}

// The earliest time >= now at which `probe` fits, releasing running jobs in finish order.
std::optional<std::pair<Seconds, Placement>> EarliestFit(const EstimateInput& in, const JobSpec& probe, AccelId a,
                                                         const std::vector<const Release*>& order) {
  if (auto p = FindPlacement(*in.rules, *in.capacity, probe, a)) return std::make_pair(in.now, *p);
  Capacity cap = *in.capacity;
  for (const Release* r : order) {
    cap.Give(r->placement);  // any type: it frees rack power too
    if (auto p = FindPlacement(*in.rules, cap, probe, a)) return std::make_pair(std::max(in.now, r->at_s), *p);
  }
  return std::nullopt;
}

void EstimateOne(const EstimateInput& in, const JobRecord& j, Candidate& c, const std::vector<const Release*>& order) {
  const JobSpec& job = j.spec;
  std::string why;
  if (!in.rules->AllowsType(job, c.accel, &why)) {
    c.rejected = "type not acceptable: " + why;
    return;
  }
  if (j.rate.size() <= static_cast<size_t>(c.accel.value()) || j.rate[c.accel.value()] <= 0) {
    c.rejected = "type not acceptable: the job's type runs at 0 steps/s on " + c.accel_name;
    return;
  }
  if (in.quota) {
    if (std::string q = in.quota(c.accel); !q.empty()) {
      c.rejected = "quota: " + q;
      return;
    }
  }
  JobSpec probe = job;  // the same job, held to this site and type
  probe.allowed_sites = {c.site};
  probe.acceptable = {c.accel};
  auto fit = EarliestFit(in, probe, c.accel, order);
  if (!fit) {
    c.rejected = NeverFits(in, job, probe, c.site, c.accel);
    return;
  }
  // The probe's site filter replaced the job's own: check the found nodes against the real spec.
  if (Status st = in.rules->Check(job, fit->second, *in.cluster); !st.ok()) {
    c.rejected = st.message();
    return;
  }
  c.nodes = fit->second.Nodes();
  const double rate = j.RateOn(c.accel, c.nodes);
  if (rate <= 0) {
    c.rejected = "type not acceptable: 0 steps/s on " + c.accel_name + " over " + std::to_string(c.nodes) + " nodes";
    return;
  }
  c.predicted_rate = j.predicted.size() > static_cast<size_t>(c.accel.value()) && j.predicted[c.accel.value()];
  const StageIn s = StageInAt(in.stage_in, *in.economics, job, c.site_name);
  c.start_s = fit->first;
  c.stage_in_s = s.seconds;
  c.stage_in_bytes = s.bytes;
  c.run_s = j.Remaining(in.now) / rate;
  c.finish_s = c.start_s + c.stage_in_s + c.run_s;
  const double price = in.economics->PriceUsdPerHour(*in.catalogue, c.site_name, c.accel);
  c.egress_usd = s.egress_usd;
  c.cost_usd = price * job.workers * c.run_s / 3600 + s.egress_usd;
  c.energy_kwh = RunEnergyKwh(in.catalogue->Get(c.accel), job.workers, c.run_s);
  const SiteCarbon* carbon = in.economics->carbon();
  const Seconds run0 = c.start_s + c.stage_in_s;
  // Without signals every site counts at the default, as in the scorers: greenest then saves energy.
  c.g_per_kwh = carbon ? carbon->ForecastAverage(c.site_name, run0, c.finish_s, in.now) : kDefaultGPerKwh;
  c.carbon_g = c.energy_kwh * c.g_per_kwh;
  if (const Tariff* t = carbon ? carbon->tariff(c.site_name) : nullptr) c.energy_usd = c.energy_kwh * t->Average(run0, c.finish_s);
  c.cost_usd += c.energy_usd;
}

}  // namespace

std::vector<Candidate> EstimateCandidates(const EstimateInput& in, const JobRecord& j) {
  const Cluster& cl = *in.cluster;
  std::vector<const Release*> order;
  for (const Release& r : in.releases) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](const Release* a, const Release* b) { return a->at_s < b->at_s; });
  std::vector<Candidate> out;
  for (const Site& site : cl.sites()) {
    for (AccelId a : cl.accel_types()) {
      bool here = false;
      for (NodeId n : cl.NodesWith(a)) here = here || cl.node(n).site == site.id;
      if (!here) continue;
      Candidate c;
      c.site = site.id;
      c.accel = a;
      c.site_name = site.name;
      c.accel_name = in.catalogue->Get(a).name;
      EstimateOne(in, j, c, order);
      out.push_back(std::move(c));
    }
  }
  return out;
}

namespace {

Seconds EarliestStart(const std::vector<Candidate>& cands) {
  Seconds t = std::numeric_limits<double>::infinity();
  for (const Candidate& c : cands)
    if (c.feasible()) t = std::min(t, c.start_s);
  return std::isfinite(t) ? t : 0;
}

// The latest finish greenest accepts: the deadline, else now + slowdown x the fastest's time.
Seconds GreenestLimit(const std::vector<Candidate>& cands, const JobSpec& job, Seconds now) {
  if (job.deadline_s) return *job.deadline_s;
  Seconds fastest = std::numeric_limits<double>::infinity();
  for (const Candidate& c : cands)
    if (c.feasible()) fastest = std::min(fastest, c.finish_s);
  return now + job.max_slowdown.value_or(kDefaultGreenestSlowdown) * (fastest - now);
}

}  // namespace

int ChooseCandidate(const std::vector<Candidate>& cands, const JobSpec& job, std::optional<Seconds> now_opt) {
  const Seconds now = now_opt ? *now_opt : EarliestStart(cands);
  auto best = [&](auto within, auto better) {
    int b = -1;
    for (size_t i = 0; i < cands.size(); ++i)
      if (cands[i].feasible() && within(cands[i]) && (b < 0 || better(cands[i], cands[b]))) b = static_cast<int>(i);
    return b;
  };
  auto any = [](const Candidate&) { return true; };
  auto earlier = [](const Candidate& x, const Candidate& y) {
    return x.finish_s < y.finish_s || (x.finish_s == y.finish_s && x.cost_usd < y.cost_usd);
  };
  auto cheaper = [](const Candidate& x, const Candidate& y) {
    return x.cost_usd < y.cost_usd || (x.cost_usd == y.cost_usd && x.finish_s < y.finish_s);
  };
  switch (job.objective) {
    case Objective::kFastest:
      return best(any, earlier);
    case Objective::kCheapest: {
      if (!job.deadline_s) return best(any, cheaper);
      const Seconds d = *job.deadline_s;
      int b = best([d](const Candidate& c) { return c.finish_s <= d; }, cheaper);
      return b >= 0 ? b : best(any, earlier);
    }
    case Objective::kBudget: {
      const double budget = job.budget_usd;
      int b = best([budget](const Candidate& c) { return c.cost_usd <= budget; }, earlier);
      return b >= 0 ? b : best(any, cheaper);
    }
    case Objective::kGreenest: {
      const Seconds limit = GreenestLimit(cands, job, now);
      auto greener = [](const Candidate& x, const Candidate& y) {
        return x.carbon_g < y.carbon_g || (x.carbon_g == y.carbon_g && x.finish_s < y.finish_s);
      };
      int b = best([limit](const Candidate& c) { return c.finish_s <= limit + 1e-6; }, greener);
      return b >= 0 ? b : best(any, earlier);
    }
  }
  return -1;
}

std::string ChoiceReason(const std::vector<Candidate>& cands, const JobSpec& job, int chosen,
                         std::optional<Seconds> now_opt) {
  if (chosen < 0) return "";
  const Seconds now = now_opt ? *now_opt : EarliestStart(cands);
  const Candidate& c = cands[static_cast<size_t>(chosen)];
  const std::string at = c.site_name + "/" + c.accel_name;
  auto kg = [](double g) { return FormatNumber("%.3g", g / 1000) + " kgCO2eq"; };
  switch (job.objective) {
    case Objective::kFastest:
      return "earliest predicted finish: " + at + " at +" + FormatNumber("%.0f", c.finish_s - now) + " s";
    case Objective::kCheapest:
      return "lowest cost" + std::string(job.deadline_s ? " finishing by the deadline" : "") + ": " + at + " $" +
             FormatNumber("%.2f", c.cost_usd);
    case Objective::kBudget:
      return "earliest finish within $" + FormatNumber("%.2f", job.budget_usd) + ": " + at;
    case Objective::kGreenest: {
      const Seconds limit = GreenestLimit(cands, job, now);
      if (c.finish_s > limit + 1e-6)
        return "no candidate finishes by +" + FormatNumber("%.0f", limit - now) + " s: earliest finish " + at;
      const std::string bound = job.deadline_s ? "the deadline"
                                               : FormatNumber("%g", job.max_slowdown.value_or(kDefaultGreenestSlowdown)) +
                                                     "x fastest's time (+" + FormatNumber("%.0f", limit - now) + " s)";
      std::string r = "least predicted emissions finishing within " + bound + ": " + at + " " + kg(c.carbon_g) + " (" +
                      FormatNumber("%.3g", c.energy_kwh) + " kWh at " + FormatNumber("%.0f", c.g_per_kwh) + " g/kWh)";
      int f = -1;
      for (size_t i = 0; i < cands.size(); ++i)
        if (cands[i].feasible() && (f < 0 || cands[i].finish_s < cands[static_cast<size_t>(f)].finish_s)) f = static_cast<int>(i);
      if (f >= 0 && f != chosen)
        r += "; fastest " + cands[static_cast<size_t>(f)].site_name + "/" + cands[static_cast<size_t>(f)].accel_name + " " +
             kg(cands[static_cast<size_t>(f)].carbon_g);
      return r;
    }
  }
  return "";
}

}  // namespace cnet
