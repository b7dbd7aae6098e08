// Service::Acct (service/acct.h): stored job rows -> accounting rows.
#include <nlohmann/json.hpp>

#include "service/service.h"

namespace cnet::service {

namespace {

// The model's steps and steps/s for the job on the type and node count it ran on.
Prediction Predict(const Admission& adm, const ModelSnapshot& m, const PerfModel& perf, const ThroughputMatrix& matrix,
                   const store::JobRow& row, const api::JobRequest& req, const AcctRow& r) {
  Prediction p;
  p.has_estimate = req.estimated_duration_s > 0 || (!req.job_type.empty() && matrix.FindJobType(req.job_type));
  if (!p.has_estimate || r.type.empty()) return p;
  auto spec = adm.ToSpec(m, row.id, row.tenant, row.submit_time, req);
  auto a = perf.catalogue().Find(r.type);
  if (!spec.ok() || !a) return p;
  p.total_steps = spec->total_steps;
  int nodes = 1;
  nlohmann::json pj = nlohmann::json::parse(row.placement_json, nullptr, false);
  if (pj.is_object() && pj.contains("shape") && pj["shape"].is_array()) nodes = std::max<int>(1, pj["shape"].size());
  auto t = spec->job_type.empty() ? std::nullopt : matrix.FindJobType(spec->job_type);
  p.rate = t ? perf.Throughput(*t, *a, spec->workers, nodes).steps_per_s : 1.0;  // no type: 1 step/s
  return p;
}

}  // namespace

Result<std::vector<AcctRow>> Service::Acct(const Caller& c, AcctQuery q, bool* truncated) {
  if (!c.admin) {
    if (q.tenant && *q.tenant != c.tenant) return PermissionDenied("tenant: you may account only your own jobs");
    q.tenant = c.tenant;
  }
  const double now = deps_.clock->Now();
  if (q.until <= 0) q.until = now;
  if (q.until < q.since) return InvalidArgument("until: before since");
  *truncated = false;
  std::shared_ptr<const ModelSnapshot> m = st_->Model();
  std::vector<AcctRow> out;
  store::JobFilter f;
  f.tenant = q.tenant;
  f.state = q.state;
  f.limit = 1000;
  for (;;) {
    auto rows = store_->ListJobs(f);
    if (!rows.ok()) return Unavailable("store: " + rows.status().message());
    for (const store::JobRow& row : *rows) {
      f.after_id = row.id;
      if (row.submit_time > q.until || (row.end_time > 0 && row.end_time < q.since)) continue;
      nlohmann::json doc = nlohmann::json::parse(row.spec_json, nullptr, false);
      auto req = doc.is_discarded() ? Result<api::JobRequest>(InvalidArgument("not JSON"))
                                    : api::JobRequestFromJson(doc, cfg_.limits);
      if (!req.ok()) return Internal("job " + std::to_string(row.id) + ": stored spec: " + req.status().message());
      AcctRow r = Account(row, *req, *cat_, *cfg_.economics, Prediction{}, now);
      const Prediction p = Predict(*admission_, *m, *perf_, *matrix_, row, *req, r);
      if (p.has_estimate) r = Account(row, *req, *cat_, *cfg_.economics, p, now);
      if (out.size() == kMaxAcctRows) {
        *truncated = true;
        return out;
      }
      out.push_back(std::move(r));
    }
    if (rows->size() < static_cast<size_t>(f.limit)) break;
  }
  return out;
}

}  // namespace cnet::service
