#include "api/request_gate.h"

#include <optional>

#include "api/bounded_server.h"
#include "api/routes.h"

namespace cnet::api {

namespace {

using Req = httplib::Request;
using Res = httplib::Response;

// What the gate learnt about the request this thread is serving.
struct GateState {
  const Req* req = nullptr;
  std::optional<Result<service::Caller>> caller;
};
thread_local GateState g_state;

bool NeedsAuth(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 && path != "/v1/openapi.json" && path != "/v1/version";
}
bool NoBodyMethod(const std::string& m) { return m == "GET" || m == "HEAD" || m == "OPTIONS"; }

Result<service::Caller> Authenticate(service::Service& svc, const Req& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) != 0) return Status(Code::kUnauthenticated, "Authorization: missing bearer token");
  return svc.Authenticate(auth.substr(7));
}

// 0 when the request may proceed (and its body is allowed on the connection); else the HTTP
// status, with the answer in `res`.
int Check(service::Service& svc, const Req& req, Res& res) {
  g_state = {&req, std::nullopt};
  if (req.has_header("Transfer-Encoding")) {
    SendError(res, 411, "Transfer-Encoding: not accepted; send the body with a Content-Length");
    return 411;
  }
  if (req.get_header_value_count("Content-Length") > 1) {
    SendError(res, 400, "Content-Length: given more than once");
    return 400;
  }
  size_t length = 0;
  const bool has_length = req.has_header("Content-Length");
  if (has_length) {
    const std::string v = req.get_header_value("Content-Length");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
      SendError(res, 400, "Content-Length: not a byte count");
      return 400;
    }
    length = std::stoull(v);
  }
  if (NoBodyMethod(req.method) && length > 0) {
    SendError(res, 400, "body: not allowed with " + req.method);
    return 400;
  }
  if (NeedsAuth(req.path)) {
    g_state.caller = Authenticate(svc, req);
    if (!g_state.caller->ok()) {
      SendError(res, g_state.caller->status());
      return res.status;
    }
  }
  for (size_t i = 0; i < req.get_header_value_count("Content-Encoding"); ++i) {
    std::string e = req.get_header_value("Content-Encoding", i);
    if (e != "identity" && e != "") {
      SendError(res, 415, "Content-Encoding: '" + e.substr(0, 40) + "' not accepted; send the body uncompressed");
      return 415;
    }
  }
  const size_t cap = svc.config().limits.max_body_bytes;
  if (length > cap) {
    SendError(res, 413, "body: larger than " + std::to_string(cap) + " bytes");
    return 413;
  }
  if (Connection* c = CurrentConnection()) {
    c->AllowBody(length);
    // Without a Content-Length httplib would read a POST's body until the end of input: it gets
    // none, and the connection ends with this request. (A DELETE without one is not read.)
    if (!has_length && (req.method == "POST" || req.method == "PUT" || req.method == "PATCH")) {
      c->CloseAfterResponse();
      res.set_header("Connection", "close");
    }
  }
  return 0;
}

void Refused(Res& res) {
  res.set_header("Connection", "close");
  if (Connection* c = CurrentConnection()) c->CloseAfterResponse();
}

}  // namespace

void InstallRequestGate(httplib::Server& srv, service::Service& svc) {
  srv.set_pre_routing_handler([&svc](const Req& req, Res& res) {
    if (Check(svc, req, res) == 0) return httplib::Server::HandlerResponse::Unhandled;
    Refused(res);
    return httplib::Server::HandlerResponse::Handled;
  });
  // A client that waits for "100 Continue" is refused before it sends the body at all.
  srv.set_expect_100_continue_handler([&svc](const Req& req, Res& res) {
    int status = Check(svc, req, res);
    if (status == 0) return 100;
    Refused(res);
    return status;
  });
}

Result<service::Caller> GateCaller(service::Service& svc, const httplib::Request& req) {
  if (g_state.req == &req && g_state.caller) return *g_state.caller;
  return Authenticate(svc, req);
}

}  // namespace cnet::api
