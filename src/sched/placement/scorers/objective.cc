#include "sched/placement/scorers/objective.h"

#include <cmath>
#include <limits>

#include "sched/estimate/site_carbon.h"

namespace cnet {

namespace {

// Types that miss the deadline or the budget rank after every type that meets it.
constexpr double kMiss = 1e15;

struct Best {
  Seconds time = std::numeric_limits<double>::infinity();  // stage-in + run, best site
  double cost = std::numeric_limits<double>::infinity();   // best site
  double grams = std::numeric_limits<double>::infinity();  // best site
};

// Greenest's horizon for ranking sites in the node scorer.
constexpr Seconds kNodeCarbonHorizon = 3600;

}  // namespace

double ObjectiveTypeScorer::Score(const JobRecord& j, AccelId a, const TypeContext& ctx) const {
  const double run = j.Remaining(ctx.now) / j.rate[a.value()];
  const JobSpec& job = j.spec;
  Best b;
  if ((job.objective == Objective::kFastest && !stage_in_) || !ctx.cluster) return -run;  // the same at every site
  const Cluster& cl = *ctx.cluster;
  SiteId last;
  for (NodeId n : cl.NodesWith(a)) {
    const SiteId s = cl.node(n).site;
    if (s == last || !job.AllowsSite(s)) continue;
    last = s;
    const std::string& site = cl.site(s).name;
    const StageIn in = StageInAt(stage_in_, *econ_, job, site);
    double cost = econ_->PriceUsdPerHour(*ctx.catalogue, site, a) * job.workers * run / 3600 + in.egress_usd;
    const double kwh = RunEnergyKwh(ctx.catalogue->Get(a), job.workers, run);
    const Seconds run0 = ctx.now + in.seconds;
    if (const SiteCarbon* carbon = econ_->carbon()) {
      if (const Tariff* t = carbon->tariff(site)) cost += kwh * t->Average(run0, run0 + run);
      b.grams = std::min(b.grams, kwh * carbon->ForecastAverage(site, run0, run0 + run, ctx.now));
    } else {
      b.grams = std::min(b.grams, kwh * kDefaultGPerKwh);
    }
    b.time = std::min(b.time, in.seconds + run);
    b.cost = std::min(b.cost, cost);
  }
  if (!std::isfinite(b.time)) b.time = run;
  if (!std::isfinite(b.cost)) b.cost = ctx.catalogue->Get(a).price_per_hour_usd * job.workers * run / 3600;
  switch (job.objective) {
    case Objective::kFastest:
      return -b.time;
    case Objective::kCheapest:
      if (job.deadline_s && ctx.now + b.time > *job.deadline_s) return -kMiss - b.time;
      return -b.cost;
    case Objective::kBudget:
      return b.cost <= job.budget_usd ? -b.time : -kMiss - b.cost;
    case Objective::kGreenest: {
      if (!std::isfinite(b.grams)) b.grams = RunEnergyKwh(ctx.catalogue->Get(a), job.workers, run) * kDefaultGPerKwh;
      const bool late = job.deadline_s ? ctx.now + b.time > *job.deadline_s
                                       : b.time > job.max_slowdown.value_or(kDefaultGreenestSlowdown) *
                                                      j.Remaining(ctx.now) / j.BestRate() + 1e-6;
      return late ? -kMiss - b.time : -b.grams;
    }
  }
  return -b.time;
}

double ObjectiveNodeScorer::Score(const Capacity& cap, const JobSpec& job, const Node& n) const {
  const std::string& site = cap.cluster().site(n.site).name;
  double primary = 0;
  const SiteCarbon* carbon = econ_->carbon();
  if (job.objective == Objective::kFastest) {
    primary = -StageInAt(stage_in_, *econ_, job, site).seconds;
  } else if (job.objective == Objective::kGreenest) {
    const Seconds t = cap.at_s();
    primary = carbon ? -carbon->ForecastAverage(site, t, t + kNodeCarbonHorizon, t) : 0;
  } else {
    primary = -econ_->PriceUsdPerHour(*cat_, site, n.accel);
    if (const Tariff* tariff = carbon ? carbon->tariff(site) : nullptr)
      primary -= cat_->Get(n.accel).board_power_w / 1000 * tariff->At(cap.at_s());
  }
  // Lexicographic: the objective first (prices to the tenth of a cent, seconds to the
  // millisecond), then best fit (a node holds at most a few thousand packages).
  return std::round(primary * 1000) * 1e4 - static_cast<double>(cap.Free(n.id));
}

double ObjectiveNodeScorer::Bound(const Capacity& cap, const JobSpec& job) const {
  if (job.objective == Objective::kFastest && !stage_in_) return -static_cast<double>(job.workers);
  return NodeScorer::Bound(cap, job);
}

void InstallObjectiveScorers(PlacementRules& rules, std::shared_ptr<const SiteEconomics> econ, const Catalogue& cat,
                             const StageInSource* stage_in, bool order_types) {
  if (order_types) rules.SetTypeScorer(std::make_unique<ObjectiveTypeScorer>(econ, stage_in));
  rules.SetNodeScorer(std::make_unique<ObjectiveNodeScorer>(std::move(econ), cat, stage_in));
}

}  // namespace cnet
