#include "service/dataset_jobs.h"

namespace cnet::service {

void AuditRefusal(const Datasets& ds, const std::string& tenant, const api::JobRequest& req, const std::string& why) {
  std::vector<store::AuditRecord> recs;
  for (const auto& d : req.inputs) {
    store::AuditRecord r;
    r.actor = tenant;
    r.action = "residency";
    r.dataset = d;
    r.policy_version = ds.PolicyVersion(d);
    r.decision = "deny";
    r.reason = "job '" + req.name + "' refused at submit: " + why;
    recs.push_back(std::move(r));
  }
  Status s = ds.Record(std::move(recs));
  (void)s;  // the caller answers the refusal either way; a store fault shows on the next write
}

Status RegisterOutput(Datasets& ds, const Caller& c, const api::JobRequest& req) {
  CNET_ASSIGN_OR_RETURN(std::string policy, ds.StrictestPolicy(c.tenant, req.inputs));
  store::DatasetRow d;
  d.name = req.output;
  d.policy = policy;
  auto r = ds.Register(c, d);
  if (!r.ok()) return Status(r.status().code(), "output: " + r.status().message());
  return Status::Ok();
}

}  // namespace cnet::service
