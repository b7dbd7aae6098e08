// Service::Explain and Service::DryRun (service/explain.h).
#include <nlohmann/json.hpp>

#include "service/service.h"

namespace cnet::service {

ExplainInputs Service::ExplainBase(const ModelSnapshot& m, const std::string& tenant) const {
  ExplainInputs in;
  in.cluster = m.cluster;
  in.probe = m.probe.get();  // the caller holds m
  in.base = loop_->Read()->estimate;
  in.catalogue = cat_.get();
  in.economics = cfg_.economics.get();
  in.stage_in = st_->stage_in.get();
  if (cfg_.temporal_shift) in.shift = &*cfg_.temporal_shift;
  in.tenant = ledger_.Tenant(tenant);
  in.now = deps_.clock->Now();
  return in;
}

Result<ExplainView> Service::Explain(const Caller& c, int64_t id) {
  CNET_ASSIGN_OR_RETURN(store::JobRow row, OwnedJob(c, id));
  nlohmann::json doc = nlohmann::json::parse(row.spec_json, nullptr, false);
  if (doc.is_discarded()) return Internal("job " + std::to_string(id) + ": stored spec is not JSON");
  CNET_ASSIGN_OR_RETURN(api::JobRequest req, api::JobRequestFromJson(doc, cfg_.limits));
  std::shared_ptr<const ModelSnapshot> m = st_->Model();
  CNET_ASSIGN_OR_RETURN(JobSpec spec, admission_->ToSpec(*m, id, row.tenant, row.submit_time, req));
  ExplainInputs in = ExplainBase(*m, row.tenant);
  CNET_ASSIGN_OR_RETURN(ExplainView v, cnet::service::Explain(in, spec));
  v.state = store::StateName(row.state);
  v.dispatched_site = row.site;
  if (!row.placement_json.empty()) {
    nlohmann::json p = nlohmann::json::parse(row.placement_json, nullptr, false);
    if (p.is_object() && p.contains("accelerator") && p["accelerator"].is_string())
      v.dispatched_type = p["accelerator"].get<std::string>();
  }
  return v;
}

Result<ExplainView> Service::DryRun(const Caller& c, const api::JobRequest& req) {
  if (c.admin) return PermissionDenied("tenant: admins do not submit jobs; use a tenant token");
  std::shared_ptr<const ModelSnapshot> m = st_->Model();
  // Refused as a submit would be; the spec is then built with the caller's tenant and the time now.
  CNET_RETURN_IF_ERROR(admission_->Check(*m, ledger_.Tenant(c.tenant), req).status());
  const double now = deps_.clock->Now();
  CNET_ASSIGN_OR_RETURN(JobSpec spec, admission_->ToSpec(*m, 0, c.tenant, now, req));
  ExplainInputs in = ExplainBase(*m, c.tenant);
  return cnet::service::Explain(in, spec);
}

}  // namespace cnet::service
