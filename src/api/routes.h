// The REST routes: one named handler per route, registered from one table. Each handler gets the
// authenticated caller; errors are Statuses mapped to HTTP by error_mapping.h.
#pragma once

#include <httplib.h>

#include <memory>

#include "api/host_check.h"

#include "service/service.h"

namespace cnet::api {

void SendJson(httplib::Response& res, int status, const nlohmann::json& j);
void SendError(httplib::Response& res, const Status& st);
void SendError(httplib::Response& res, int http_status, const std::string& message);

// Registers every route of /v1 on `srv`, /metrics (admin token), /healthz and /v1/openapi.json,
// each behind the Host check (host_check.h) built from the service's config.
void RegisterRoutes(httplib::Server& srv, service::Service& svc);
// /metrics without a token, and /healthz, behind the Host check: for a listener of their own.
void RegisterMetricsRoute(httplib::Server& srv, service::Service& svc, std::shared_ptr<const HostAllowList> hosts);

}  // namespace cnet::api
