// The placement seam: hard filters say which nodes and accelerator types a job may use (with a
// reason), scorers rank the candidates. Every placement path (FindPlacement, every policy's type
// order, the Scheduler's validation of decisions and its admission check) goes through one
// PlacementRules, so a new objective (data locality, cost, energy, carbon) is one NodeScorer or
// TypeScorer and a new hard constraint (data residency) one Filter, without touching policies.
//
// Implementations must be pure: an answer depends only on the arguments and the object's
// immutable configuration (no caches, no clocks), so one PlacementRules may be shared by
// schedulers on several threads and a cycle stays a function of state, time and seed.
// Scheduler::AdoptRunning (re-adopting a job found running after a restart) is the one path that
// does not consult the rules: it records where a job already runs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/job.h"
#include "sched/capacity.h"
#include "sched/job_record.h"

namespace cnet {

// A hard constraint on where one job may run. Filters see the JobSpec, so job-level constraints
// (allowed sites today, data residency next) live here and bind every policy.
class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // Whether `job` may use accelerator type `a` at all. When false and `why` is not null, *why
  // says why. Default: yes.
  virtual bool AllowsType(const JobSpec& job, AccelId a, std::string* why) const;
  // Whether `job` may use node `n` (whose type AllowsType already accepted). When false and `why`
  // is not null, *why says why. Hot path: called per node per placement attempt.
  virtual bool AllowsNode(const JobSpec& job, const Node& n, std::string* why) const = 0;
  // False when AllowsNode answers true for every node for this job. Callers use it to share a
  // "this gang shape does not fit" answer between jobs; when unsure, return true.
  virtual bool Restricts(const JobSpec& job) const = 0;
};

// Ranks nodes for the one-node strategy (a whole gang of job.workers packages on one node).
// Higher is better; ties go to the earlier node in the cluster's order. The spreading strategies
// do not use it: they fill the largest free nodes first, so that a gang uses few nodes.
class NodeScorer {
 public:
  virtual ~NodeScorer() = default;
  virtual std::string_view name() const = 0;
  virtual double Score(const Capacity& cap, const JobSpec& job, const Node& n) const = 0;
  // An upper bound on Score over every node for `job`: the search stops at the first node that
  // reaches it. Default: +infinity (no early stop).
  virtual double Bound(const Capacity& cap, const JobSpec& job) const;
};

// What a type scorer may look at besides the job.
struct TypeContext {
  Seconds now = 0;
  const Catalogue* catalogue = nullptr;
  const Cluster* cluster = nullptr;  // may be null (scorers that need sites then see none)
};

// Ranks the accelerator types a job can run on. Higher is better; ties keep catalogue order.
class TypeScorer {
 public:
  virtual ~TypeScorer() = default;
  virtual std::string_view name() const = 0;
  // Only called for types where the job's rate is > 0.
  virtual double Score(const JobRecord& j, AccelId a, const TypeContext& ctx) const = 0;
};

// The filters and scorers every placement uses. Immutable once built; share by const reference.
class PlacementRules {
 public:
  // The default: the JobSpec filter (acceptable types, allowed sites), best-fit nodes, and each
  // policy's own type order.
  PlacementRules();
  // Adds a hard filter (all filters must allow). Returns *this for chaining.
  PlacementRules& AddFilter(std::unique_ptr<Filter> f);
  // Replaces the node scorer (default: best fit).
  PlacementRules& SetNodeScorer(std::unique_ptr<NodeScorer> s);
  // Sets a type scorer that overrides every policy's own type order (default: none, each policy
  // keeps its own, e.g. fastest first). Policies that take types from an LP allocation ignore it.
  PlacementRules& SetTypeScorer(std::unique_ptr<TypeScorer> s);

  bool AllowsType(const JobSpec& job, AccelId a, std::string* why = nullptr) const;
  bool AllowsNode(const JobSpec& job, const Node& n, std::string* why = nullptr) const;
  bool Restricts(const JobSpec& job) const;
  // Ok when every slot of `p` is on a node the job may use, of a type it may use; else
  // InvalidArgument naming the filter's reason.
  Status Check(const JobSpec& job, const Placement& p, const Cluster& cl) const;

  const NodeScorer& node_scorer() const { return *node_scorer_; }
  // The types job j can use (rate > 0, allowed by every filter), best first by the override type
  // scorer if set, else by `policy_default`; ties in catalogue order.
  std::vector<AccelId> RankTypes(const JobRecord& j, const Cluster& cl, const TypeContext& ctx,
                                 const TypeScorer& policy_default) const;

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
  std::unique_ptr<NodeScorer> node_scorer_;
  std::unique_ptr<TypeScorer> type_scorer_;  // may be null
};

}  // namespace cnet
