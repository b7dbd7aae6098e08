// The REST routes: one named handler per route, registered from one table. Each handler gets the
// authenticated caller; errors are Statuses mapped to HTTP by error_mapping.h.
#pragma once

#include <httplib.h>

#include "service/service.h"

namespace cnet::api {

void SendJson(httplib::Response& res, int status, const nlohmann::json& j);
void SendError(httplib::Response& res, const Status& st);
void SendError(httplib::Response& res, int http_status, const std::string& message);

// Registers every route of /v1 on `srv`.
void RegisterRoutes(httplib::Server& srv, service::Service& svc);

}  // namespace cnet::api
