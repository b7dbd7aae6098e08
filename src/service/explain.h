// `cnet explain` and `cnet submit --dry-run` (docs/dispatch.md): every candidate (site,
// accelerator type) for one job with its predicted start, stage-in, run time, finish, cost and
// energy, or why it is rejected, and the candidate the job's objective picks. Built on HTTP
// threads from immutable inputs: the admission model, and the EstimateBase the control loop
// publishes with each cycle's reasons (the free capacity and when running jobs end).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/cluster.h"
#include "sched/capacity.h"
#include "sched/estimate/candidates.h"
#include "sched/estimate/temporal_shift.h"
#include "sched/scheduler.h"
#include "store/store.h"

namespace cnet::service {

// Published by the control loop after each scheduling cycle (ReadModel::estimate). Immutable.
struct EstimateBase {
  std::shared_ptr<const Cluster> cluster;  // keeps the capacity's cluster alive
  Capacity capacity;                       // free after the cycle
  std::vector<Release> releases;           // running jobs' expected finishes (the clock's time)
  double at = 0;                           // when it was taken
};

struct ExplainView {
  int64_t job = 0;                 // 0 for a dry run
  std::string state;               // the job's state ("" for a dry run)
  std::string objective;           // fastest, cheapest or budget
  std::optional<double> deadline;  // absolute (epoch seconds)
  double budget_usd = 0;
  double now = 0;
  std::string dispatched_site, dispatched_type;  // where it was placed, "" before
  std::vector<Candidate> candidates;
  int chosen = -1;                 // the objective's pick among the candidates, -1 if none
  std::string note;                // e.g. why starts are not known yet
  std::string reason;              // why the objective picks `chosen` (ChoiceReason)
  // Temporal shifting's plan for a greenest job with a deadline (ServiceConfig::temporal_shift):
  // whether it waits, and the predicted gCO2eq of every start time it weighed.
  std::optional<ShiftPlan> shift;
};

// The quota rejection of type `a` for a job of `workers` packages under `tenant`'s limits: "" when
// allowed, else e.g. "tenant t's quota is 4 V100; the job needs 8".
std::string QuotaReason(const std::optional<store::TenantRow>& tenant, const Catalogue& cat, AccelId a, int workers);

struct ExplainInputs {
  std::shared_ptr<const Cluster> cluster;        // the admission model's
  const Scheduler* probe = nullptr;              // its job-less scheduler (rates, rules)
  std::shared_ptr<const EstimateBase> base;      // may be null or over an older cluster
  const Catalogue* catalogue = nullptr;
  const SiteEconomics* economics = nullptr;
  const StageInSource* stage_in = nullptr;       // may be null: no stage-in
  const ShiftOptions* shift = nullptr;           // null: no temporal shifting
  std::optional<store::TenantRow> tenant;
  double now = 0;
};

// The view for `spec`. Fails (InvalidArgument/Infeasible) when the probe cannot prepare the job.
Result<ExplainView> Explain(const ExplainInputs& in, const JobSpec& spec);

}  // namespace cnet::service
