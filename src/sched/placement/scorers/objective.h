// The job's objective (JobSpec::objective) as placement scorers: which type a policy tries first
// and, among nodes of that type with room, which site's node the one-node strategy takes.
// docs/dispatch.md: the formulas are the candidate estimates' (estimate/candidates.h) with
// start = now, since policies only place what fits now.
//
// Type order (ObjectiveTypeScorer), per type a, over the sites the job allows that have a:
//   fastest   -(min stage-in + run), run = remaining / the job's one-node rate on a;
//   cheapest  -(min cost), cost = price x packages x run hours + egress; types whose finish misses
//             the job's deadline come after every type that meets it, earliest finish first;
//   budget    -(stage-in + run) among types whose cheapest site is within budget_usd; the others
//             after them, cheapest first;
//   greenest  -(min gCO2eq), gCO2eq = board power x packages x run x the site's forecast intensity
//             over [now + stage-in, + run) (estimate/site_carbon.h); types that miss the deadline,
//             or without one take longer than max_slowdown x the job's time on its fastest type,
//             come after, earliest finish first.
// With a tariff at a site, cheapest's cost includes energy x the tariff's mean over the run.
// Ties keep catalogue order (PlacementRules::RankTypes).
// Node order (ObjectiveNodeScorer), one-node placements only: fastest prefers the site with the
// least stage-in, cheapest and budget the site with the lowest price for the node's type (plus
// board power x the tariff now), greenest the site with the lowest forecast intensity over the
// next hour from Capacity::at_s (the node scorer does not know the run time); then
// best fit (fewest free packages left). Multi-node gangs use the spreading strategies, which do
// not consult node scorers (docs/ARCHITECTURE.md "Placement").
// Immutable; thread-safe; pure (the economics and stage-in source are fixed at construction).
#pragma once

#include <memory>

#include "sched/estimate/candidates.h"
#include "sched/estimate/economics.h"
#include "sched/placement/rules.h"

namespace cnet {

class ObjectiveTypeScorer final : public TypeScorer {
 public:
  // `stage_in` may be null (no inputs); both must outlive the scorer.
  ObjectiveTypeScorer(std::shared_ptr<const SiteEconomics> econ, const StageInSource* stage_in)
      : econ_(std::move(econ)), stage_in_(stage_in) {}
  std::string_view name() const override { return "objective"; }
  // Needs ctx.cluster and ctx.catalogue.
  double Score(const JobRecord& j, AccelId a, const TypeContext& ctx) const override;

 private:
  std::shared_ptr<const SiteEconomics> econ_;
  const StageInSource* stage_in_;
};

class ObjectiveNodeScorer final : public NodeScorer {
 public:
  ObjectiveNodeScorer(std::shared_ptr<const SiteEconomics> econ, const Catalogue& cat, const StageInSource* stage_in)
      : econ_(std::move(econ)), cat_(&cat), stage_in_(stage_in) {}
  std::string_view name() const override { return "objective"; }
  double Score(const Capacity& cap, const JobSpec& job, const Node& n) const override;
  // Best fit's bound where every site scores alike (fastest without stage-in), else none.
  double Bound(const Capacity& cap, const JobSpec& job) const override;

 private:
  std::shared_ptr<const SiteEconomics> econ_;
  const Catalogue* cat_;
  const StageInSource* stage_in_;
};

// Installs both scorers on `rules` (the service and the simulator do this). order_types false:
// only the node scorer, so a policy keeps its own type order (cost-hetero's is already by cost).
void InstallObjectiveScorers(PlacementRules& rules, std::shared_ptr<const SiteEconomics> econ, const Catalogue& cat,
                             const StageInSource* stage_in, bool order_types = true);

}  // namespace cnet
