// The built-in filters and scorers (the seam is in sched/placement/rules.h).
//   JobSpecFilter     the job's own hard constraints: acceptable types, allowed sites. The place
//                     for further JobSpec-level constraints (data residency).
//   BestFitScorer     one-node placements on the node left with the fewest free packages.
//   FastestTypeScorer types by the job's one-node throughput (fifo-hetero, backfill).
//   CheapestTypeScorer types by the cost to finish: price x workers x remaining runtime
//                     (cost-hetero).
// Stateless; thread-safe.
#pragma once

#include "sched/placement/rules.h"

namespace cnet {

class JobSpecFilter final : public Filter {
 public:
  std::string_view name() const override { return "job-spec"; }
  bool AllowsType(const JobSpec& job, AccelId a, std::string* why) const override;
  bool AllowsNode(const JobSpec& job, const Node& n, std::string* why) const override;
  bool Restricts(const JobSpec& job) const override { return !job.allowed_sites.empty(); }
};

class BestFitScorer final : public NodeScorer {
 public:
  std::string_view name() const override { return "best-fit"; }
  double Score(const Capacity& cap, const JobSpec&, const Node& n) const override {
    return -static_cast<double>(cap.Free(n.id));
  }
  // A node with exactly the gang's packages free cannot be beaten.
  double Bound(const Capacity&, const JobSpec& job) const override {
    return -static_cast<double>(job.workers);
  }
};

class FastestTypeScorer final : public TypeScorer {
 public:
  std::string_view name() const override { return "fastest"; }
  double Score(const JobRecord& j, AccelId a, const TypeContext&) const override {
    return j.rate[a.value()];
  }
};

class CheapestTypeScorer final : public TypeScorer {
 public:
  std::string_view name() const override { return "cheapest"; }
  double Score(const JobRecord& j, AccelId a, const TypeContext& ctx) const override {
    return -CostUsd(j, a, ctx);
  }
  // Dollars to finish job j's remaining work on type a (rate > 0).
  static double CostUsd(const JobRecord& j, AccelId a, const TypeContext& ctx);
};

}  // namespace cnet
