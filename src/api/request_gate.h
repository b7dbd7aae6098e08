// The request gate: decides from the request line and headers alone, before httplib reads any
// body byte (its pre-routing handler, and its Expect: 100-continue handler, run then):
//  - framing: Transfer-Encoding is refused (411: send Content-Length); Content-Length must be one
//    decimal number; GET/HEAD/OPTIONS carry no body (400);
//  - authentication of every /v1 route except /v1/openapi.json (401, or 503 if the store cannot
//    answer), so an unauthenticated client never makes the server read its body;
//  - any Content-Encoding other than identity is refused (415): httplib would inflate it in memory;
//  - a Content-Length over api::Limits::max_body_bytes is refused (413).
// A refused request's body is left unread and its connection closed after the answer. An accepted
// one may send exactly its Content-Length (no Content-Length: no body).
#pragma once

#include <httplib.h>

#include "service/service.h"

namespace cnet::api {

// Installs the gate on `srv` (replacing its pre-routing and 100-continue handlers).
void InstallRequestGate(httplib::Server& srv, service::Service& svc);

// The caller the gate authenticated for `req` (the same request object, on the same thread); when
// the gate did not see `req`, authenticates its Authorization header now.
Result<service::Caller> GateCaller(service::Service& svc, const httplib::Request& req);

}  // namespace cnet::api
