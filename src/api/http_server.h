// The REST API (/v1, JSON) over cpp-httplib, on top of service::Service. Every error is JSON:
// {"error": {"status": 400, "field": "workers", "message": "workers: must be ..."}}; the status
// comes from the Status code (error_mapping.h). Run() blocks until Stop() (from another thread).
// Requests are bounded (bounded_server.h: connections, deadlines, bytes; request_gate.h: what is
// refused before a body is read) by the service config's `http` and `limits`; with `tls` set the
// API is served over HTTPS only.
#pragma once

#include <memory>
#include <string>

#include "service/service.h"

namespace cnet::api {

class HttpServer {
 public:
  explicit HttpServer(service::Service& svc);
  ~HttpServer();
  // Binds host:port (port 0: any free port; see port()). Fails naming the address, or naming
  // tls_cert / tls_key and the file when the config's TLS files cannot be used.
  Status Bind(const std::string& host, int port);
  int port() const { return port_; }
  bool tls() const;
  void Run();   // serves until Stop()
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// The OpenAPI document served at /v1/openapi.json (docs/openapi.json, compiled in).
const std::string& OpenApiDocument();

}  // namespace cnet::api
