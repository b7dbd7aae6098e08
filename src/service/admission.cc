#include "service/admission.h"

#include <algorithm>

#include "service/datasets.h"
#include "service/host_fit.h"

namespace cnet::service {

Status Admission::SetAccelerators(const ModelSnapshot& m, const api::JobRequest& req, JobSpec* j) const {
  if (req.accelerators_per_worker <= 0) {
    j->workers = req.workers * req.cpus_per_worker;
    j->unit = req.cpus_per_worker;
    j->acceptable = {cpu_type_};
    return Status::Ok();
  }
  j->workers = req.workers * req.accelerators_per_worker;
  j->unit = req.accelerators_per_worker;
  j->cpus_per_worker = req.cpus_per_worker;  // taken from the node's CPU twin where it has one
  if (req.accelerator_types.empty()) {
    for (AccelId a : m.cluster->accel_types())
      if (cat_->Get(a).kind != AccelKind::kCpu) j->acceptable.push_back(a);
    if (j->acceptable.empty())
      return Infeasible("accelerators_per_worker: no site has accelerators; ask for 0 (a CPU-only job)");
  }
  for (size_t i = 0; i < req.accelerator_types.size(); ++i) {
    auto a = cat_->Find(req.accelerator_types[i]);
    if (!a || cat_->Get(*a).kind == AccelKind::kCpu)
      return InvalidArgument("accelerator_types[" + std::to_string(i) + "]: unknown accelerator type '" +
                             req.accelerator_types[i] + "' (known: " + cat_->NameList() + ")");
    j->acceptable.push_back(*a);
  }
  return Status::Ok();
}

Result<JobSpec> Admission::ToSpec(const ModelSnapshot& m, int64_t id, const std::string& tenant, double submit_time,
                                  const api::JobRequest& req) const {
  JobSpec j;
  j.id = JobId(id);
  j.name = req.name;
  j.tenant = tenant;
  j.priority = req.priority;
  j.submit_time_s = submit_time;
  CNET_RETURN_IF_ERROR(SetAccelerators(m, req, &j));
  auto tenant_default = default_objectives_.find(tenant);
  j.objective = !req.objective.empty()                      ? *ParseObjective(req.objective)
                : tenant_default != default_objectives_.end() ? tenant_default->second
                                                              : Objective::kFastest;
  j.budget_usd = req.budget_usd;
  if (req.deadline_s > 0) j.deadline_s = submit_time + req.deadline_s;
  for (size_t i = 0; i < req.sites.size(); ++i) {
    bool found = false;
    for (const cnet::Site& s : m.cluster->sites())
      if (s.name == req.sites[i]) {
        j.allowed_sites.push_back(s.id);
        found = true;
      }
    if (!found) return InvalidArgument("sites[" + std::to_string(i) + "]: unknown site '" + req.sites[i] + "'");
  }
  if (!req.inputs.empty()) {  // the inputs' policies and grants: a hard filter in the core
    if (!datasets_) return InvalidArgument("inputs: this service keeps no datasets");
    CNET_ASSIGN_OR_RETURN(j.residency, datasets_->Resolve(tenant, req.inputs, *m.cluster));
    CNET_ASSIGN_OR_RETURN(j.inputs, datasets_->Inputs(tenant, req.inputs));
  }
  if (!req.job_type.empty() && matrix_->FindJobType(req.job_type)) {
    // A CPU job whose type the matrix measured on no CPU runs as a job with no type (1 step/s).
    const bool measured = req.accelerators_per_worker > 0 || matrix_->Get(*matrix_->FindJobType(req.job_type), cpu_type_, 1, false);
    if (measured) j.job_type = req.job_type;
  } else if (!req.job_type.empty() && matrix_->num_job_types() > 1) {
    return InvalidArgument("job_type: unknown job type '" + req.job_type + "' (not in the throughput matrix)");
  }
  if (req.min_workers > 0 || req.max_workers > 0) {  // elastic (docs/elastic.md), in packages as workers is
    if (j.job_type.empty())
      return InvalidArgument(std::string(req.min_workers > 0 ? "min_workers" : "max_workers") +
                             ": an elastic job needs a job_type of the throughput matrix (the rate of each gang size)");
    j.min_workers = (req.min_workers > 0 ? req.min_workers : req.workers) * j.unit;
    j.max_workers = (req.max_workers > 0 ? req.max_workers : req.workers) * j.unit;
  }
  const double est = req.estimated_duration_s > 0 ? req.estimated_duration_s
                     : req.time_limit_s > 0       ? req.time_limit_s
                                                  : 3600;
  j.total_steps = est;
  if (!j.job_type.empty()) {
    auto t = matrix_->FindJobType(j.job_type);
    double best = 0;
    for (AccelId a : j.acceptable) best = std::max(best, perf_->Throughput(*t, a, j.workers).steps_per_s);
    if (best > 0) j.total_steps = est * best;  // the estimate is on the fastest acceptable type
  }
  return j;
}

namespace {

// Why no site may run a job with inputs: each site its data may not go to, with the dataset, the
// policy and the failing clause; else the core's own answer about the sites it may use.
std::string ResidencyRefusal(const Cluster& cl, const JobSpec& spec, const std::string& core) {
  std::string denied;
  for (const cnet::Site& s : cl.sites())
    if (spec.AllowsSite(s.id) && !spec.residency->Allows(s.id))
      denied += (denied.empty() ? "" : "; ") + spec.residency->WhyNot(s.id);
  return "inputs: no site this job's data may go to can ever hold it (" + core + ")" +
         (denied.empty() ? "" : "; elsewhere: " + denied);
}

}  // namespace

Result<JobSpec> Admission::Check(const ModelSnapshot& m, const std::optional<store::TenantRow>& tenant,
                                 const api::JobRequest& req) const {
  CNET_ASSIGN_OR_RETURN(JobSpec spec, ToSpec(m, 0, tenant ? tenant->name : "", 0, req));
  CNET_RETURN_IF_ERROR(CheckWorkerFits(*m.cluster, *cat_, req, spec.acceptable));
  auto prep = m.probe->Prepare(spec);
  if (!prep.ok() && spec.residency) {  // blame the data only when the job could run without it
    JobSpec free_data = spec;
    free_data.residency = nullptr;
    if (m.probe->Prepare(free_data).ok()) return Infeasible(ResidencyRefusal(*m.cluster, spec, prep.status().message()));
  }
  if (!prep.ok()) {
    const std::string& msg = prep.status().message();
    size_t p = msg.find(": ");
    return Infeasible("workers: " + (p == std::string::npos ? msg : msg.substr(p + 2)) + "; this job can never run here");
  }
  if (!tenant) return spec;
  const int total = req.TotalAccelerators();
  for (const auto& [type, limit] : tenant->max_accelerators) {
    if (limit <= 0 || req.accelerators_per_worker <= 0) continue;
    const bool counts = type == "*" || (spec.acceptable.size() == 1 && cat_->Get(spec.acceptable[0]).name == type);
    if (counts && total > limit)
      return PermissionDenied("accelerators_per_worker: the job needs " + std::to_string(total) + " " +
                              (type == "*" ? "accelerators" : type) + "; tenant " + tenant->name + "'s quota is " +
                              std::to_string(limit));
  }
  return spec;
}

std::string Admission::ChargeType(const JobSpec& spec) const {
  return spec.acceptable.size() == 1 ? cat_->Get(spec.acceptable[0]).name : "";
}

}  // namespace cnet::service
