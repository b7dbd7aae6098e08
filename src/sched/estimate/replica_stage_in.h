// The stage-in a job needs at a site from its inputs' replicas (JobSpec::inputs): every input the
// site holds no copy of comes from the replica it moves fastest from (SiteEconomics' links: the
// least latency + bytes / bandwidth; ties in replica order). An input with no replica anywhere has
// nothing to move (its data is wherever its owner keeps it). The service and the simulator use
// the same source, so their stage-in estimates and data-aware placements are the same formulas.
// Immutable after construction; thread-safe.
#pragma once

#include <memory>

#include "sched/estimate/candidates.h"

namespace cnet {

class ReplicaStageIn final : public StageInSource {
 public:
  explicit ReplicaStageIn(std::shared_ptr<const SiteEconomics> econ) : econ_(std::move(econ)) {}
  std::vector<Transfer> Missing(const JobSpec& job, const std::string& site) const override;
  // The replica of `in` (an index into in.replicas) that stage-in at `site` copies from; -1 when
  // the site holds a copy, or there is none or nothing to move.
  int SourceOf(const InputData& in, const std::string& site) const;
  // The replica `site` holds (an index), or -1.
  static int HeldAt(const InputData& in, const std::string& site);

 private:
  std::shared_ptr<const SiteEconomics> econ_;
};

}  // namespace cnet
