#include "sched/placement/rules.h"

#include <algorithm>
#include <limits>

#include "sched/placement/builtin.h"
#include "sched/placement/residency_filter.h"

namespace cnet {

bool Filter::AllowsType(const JobSpec&, AccelId, std::string*) const { return true; }

double NodeScorer::Bound(const Capacity&, const JobSpec&) const {
  return std::numeric_limits<double>::infinity();
}

PlacementRules::PlacementRules() : node_scorer_(std::make_unique<BestFitScorer>()) {
  filters_.push_back(std::make_unique<JobSpecFilter>());
  filters_.push_back(std::make_unique<ResidencyFilter>());  // always on: no rules may drop it
}

PlacementRules& PlacementRules::AddFilter(std::unique_ptr<Filter> f) {
  filters_.push_back(std::move(f));
  return *this;
}

PlacementRules& PlacementRules::SetNodeScorer(std::unique_ptr<NodeScorer> s) {
  node_scorer_ = std::move(s);
  return *this;
}

PlacementRules& PlacementRules::SetTypeScorer(std::unique_ptr<TypeScorer> s) {
  type_scorer_ = std::move(s);
  return *this;
}

bool PlacementRules::AllowsType(const JobSpec& job, AccelId a, std::string* why) const {
  for (const auto& f : filters_)
    if (!f->AllowsType(job, a, why)) return false;
  return true;
}

bool PlacementRules::AllowsNode(const JobSpec& job, const Node& n, std::string* why) const {
  for (const auto& f : filters_)
    if (!f->AllowsNode(job, n, why)) return false;
  return true;
}

bool PlacementRules::Restricts(const JobSpec& job) const {
  for (const auto& f : filters_)
    if (f->Restricts(job)) return true;
  return false;
}

Status PlacementRules::Check(const JobSpec& job, const Placement& p, const Cluster& cl) const {
  std::string why;
  if (!AllowsType(job, p.accel, &why)) return InvalidArgument("type refused: " + why);
  for (const Slot& s : p.slots)
    if (!AllowsNode(job, cl.node(s.node), &why)) return InvalidArgument("node refused: " + why);
  return Status::Ok();
}

std::vector<AccelId> PlacementRules::RankTypes(const JobRecord& j, const Cluster& cl,
                                               const TypeContext& ctx,
                                               const TypeScorer& policy_default) const {
  const TypeScorer& scorer = type_scorer_ ? *type_scorer_ : policy_default;
  const auto& types = cl.accel_types();
  // Called per job per cycle: one allocation, and an insertion sort (stable, types are few).
  constexpr size_t kInline = 16;
  double inline_scores[kInline];
  std::vector<double> heap_scores(types.size() > kInline ? types.size() : 0);
  double* score = types.size() > kInline ? heap_scores.data() : inline_scores;
  std::vector<AccelId> out;
  out.reserve(types.size());
  for (AccelId a : types) {
    if (j.rate[a.value()] <= 0 || !AllowsType(j.spec, a)) continue;
    const double s = scorer.Score(j, a, ctx);
    size_t k = out.size();
    out.push_back(a);
    for (; k > 0 && score[k - 1] < s; --k) {  // after equal scores: catalogue order on ties
      score[k] = score[k - 1];
      out[k] = out[k - 1];
    }
    score[k] = s;
    out[k] = a;
  }
  return out;
}

}  // namespace cnet
