// The routes of the dispatch decision and accounting (docs/dispatch.md), registered in the one
// route table of routes.cc:
//   GET  /v1/jobs/{id}/explain   every candidate for a job, its estimates or rejection, the pick
//   POST /v1/jobs/dry-run        the same for a job spec, nothing stored or queued
//   GET  /v1/acct                per-job accounting (tenant, state, since, until)
//   GET  /v1/acct/usage          per-tenant totals over [since, until]
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "service/service.h"

namespace cnet::api {

void GetExplain(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void PostDryRun(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void GetAcct(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void GetAcctUsage(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);

nlohmann::json ExplainJson(const service::ExplainView& v);
nlohmann::json AcctJson(const service::AcctRow& r);

}  // namespace cnet::api
