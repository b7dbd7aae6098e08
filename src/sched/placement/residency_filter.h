// The data-residency filter (docs/data.md): a job whose JobSpec carries a DataResidency may use
// only nodes of the sites it allows. Part of every PlacementRules (the default constructor adds
// it), so every policy, requeue, re-dispatch and restart that places through the rules honours
// it; the deny reason names the dataset, policy and failing clause. Stateless; thread-safe.
#pragma once

#include "sched/placement/rules.h"

namespace cnet {

class ResidencyFilter final : public Filter {
 public:
  std::string_view name() const override { return "data-residency"; }
  bool AllowsNode(const JobSpec& job, const Node& n, std::string* why) const override;
  bool Restricts(const JobSpec& job) const override { return job.residency != nullptr; }
};

}  // namespace cnet
