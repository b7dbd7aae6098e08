// The /v1/datasets routes (docs/data.md, docs/openapi.json): register, list, show, update, remove,
// grant, revoke, and a dataset's audit log. Handlers for routes.cc's table; each maps the
// service's Status to HTTP (a dataset the caller may not see is 404, exactly as a missing one).
#pragma once

#include <httplib.h>

#include "service/service.h"

namespace cnet::api {

void PostDataset(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void ListDatasets(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void GetDataset(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void PatchDataset(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void DeleteDataset(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void PutGrant(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void DeleteGrant(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
void GetDatasetAudit(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);

}  // namespace cnet::api
