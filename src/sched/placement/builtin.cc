#include "sched/placement/builtin.h"

namespace cnet {

bool JobSpecFilter::AllowsType(const JobSpec& job, AccelId a, std::string* why) const {
  if (job.Accepts(a)) return true;
  if (why) *why = "job-spec: type not among the job's acceptable types";
  return false;
}

bool JobSpecFilter::AllowsNode(const JobSpec& job, const Node& n, std::string* why) const {
  if (job.AllowsSite(n.site)) return true;
  if (why) *why = "job-spec: node " + n.name + " is in a site the job may not use";
  return false;
}

double CheapestTypeScorer::CostUsd(const JobRecord& j, AccelId a, const TypeContext& ctx) {
  double run = j.Remaining(ctx.now) / j.rate[a.value()];
  return ctx.catalogue->Get(a).price_per_hour_usd * j.spec.workers * run / 3600;
}

}  // namespace cnet
