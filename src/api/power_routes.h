// The admin's power-budget routes (docs/energy.md, "Power caps and budgets"; docs/openapi.json):
// every site's cap, windows, override and budget in force; set or clear a site's override.
// Handlers for routes.cc's table.
#pragma once

#include <httplib.h>

#include "service/service.h"

namespace cnet::api {

// GET /v1/admin/power
void GetPower(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
// PUT /v1/admin/sites/{site}/power-budget {"kw": 5, "reason": "..."}
void PutPowerBudget(service::Service& svc, const service::Caller& c, const httplib::Request& req, httplib::Response& res);
// DELETE /v1/admin/sites/{site}/power-budget
void DeletePowerBudget(service::Service& svc, const service::Caller& c, const httplib::Request& req,
                       httplib::Response& res);

}  // namespace cnet::api
