// Admission: turns an accepted request into the scheduling core's JobSpec and refuses what can
// never run. Reads only an immutable ModelSnapshot (the cluster model and a scheduler with no
// jobs over it), never the live scheduler, so HTTP threads admit while the loop schedules.
// Thread-safe: every method is const over immutable state.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "api/job_request.h"
#include "model/cluster.h"
#include "perf/perf_model.h"
#include "sched/scheduler.h"
#include "store/store.h"

namespace cnet::service {

class Datasets;  // service/datasets.h

// The cluster model at one moment, shared read-only; replaced (never changed) when it grows.
struct ModelSnapshot {
  std::shared_ptr<const Cluster> cluster;
  std::shared_ptr<const Scheduler> probe;  // no jobs: only Prepare is called on it
};

class Admission {
 public:
  Admission(const Catalogue& cat, const ThroughputMatrix& matrix, const PerfModel& perf, AccelId cpu_type)
      : cat_(&cat), matrix_(&matrix), perf_(&perf), cpu_type_(cpu_type) {}

  // The spec of job `id` of `tenant` submitted at `submit_time`. kInvalidArgument naming the field
  // (unknown accelerator type, site or job type).
  Result<JobSpec> ToSpec(const ModelSnapshot& m, int64_t id, const std::string& tenant, double submit_time,
                         const api::JobRequest& req) const;
  // ToSpec, then: kInfeasible when no site could ever hold the job (naming the field and the
  // largest gang possible), kPermissionDenied when it is larger than one of the tenant's
  // accelerator quotas (so it could never start).
  Result<JobSpec> Check(const ModelSnapshot& m, const std::optional<store::TenantRow>& tenant,
                        const api::JobRequest& req) const;
  // The quota type a job is charged under while it waits: its only acceptable type, else "".
  std::string ChargeType(const JobSpec& spec) const;
  bool CpuOnly(const JobSpec& spec) const { return spec.acceptable.size() == 1 && spec.acceptable[0] == cpu_type_; }
  AccelId cpu_type() const { return cpu_type_; }
  // The dataset registry that resolves a request's `inputs` into the spec's residency (set once,
  // before any request); null: requests naming inputs are refused.
  void SetDatasets(const Datasets* d) { datasets_ = d; }
  const Datasets* datasets() const { return datasets_; }
  // Each tenant's objective for jobs that name none (config tenants[].objective). Call before
  // any other thread uses this object.
  void SetDefaultObjectives(std::map<std::string, Objective> m) { default_objectives_ = std::move(m); }

 private:
  Status SetAccelerators(const ModelSnapshot& m, const api::JobRequest& req, JobSpec* j) const;
  const Catalogue* cat_;
  const ThroughputMatrix* matrix_;
  const PerfModel* perf_;
  AccelId cpu_type_;
  const Datasets* datasets_ = nullptr;
  std::map<std::string, Objective> default_objectives_;
};

}  // namespace cnet::service
