// JSON renderings of the service's values for the REST API (docs/openapi.json). Pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "service/read_model.h"
#include "service/service.h"

namespace cnet::api {

nlohmann::json JobJson(const service::JobView& v, bool with_events);
nlohmann::json SitesJson(const service::ReadModel& m);
nlohmann::json UsageJson(const service::Service::UsageView& u);
nlohmann::json TenantJson(const store::TenantRow& t);
// A token as admins see it: id, role, tenant, label, and its times (epoch seconds; null = never).
// Never the hash.
nlohmann::json TokenJson(const store::TokenRow& t);
nlohmann::json ErrorJson(int http_status, const std::string& message);

}  // namespace cnet::api
