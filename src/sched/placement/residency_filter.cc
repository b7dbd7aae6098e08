#include "sched/placement/residency_filter.h"

#include "model/data_residency.h"

namespace cnet {

bool ResidencyFilter::AllowsNode(const JobSpec& job, const Node& n, std::string* why) const {
  if (!job.residency || job.residency->Allows(n.site)) return true;
  if (why) *why = "data residency: " + job.residency->WhyNot(n.site);
  return false;
}

}  // namespace cnet
