// A listener of its own for Prometheus: /metrics without a token, and /healthz, for an address
// that only the scraper can reach (`cnet serve --metrics-listen HOST:PORT`, config
// metrics_listen). The Host check applies (host_check.h; the allowed names are those of the API
// plus this listener's host). Serves on a thread of its own between Start and Stop.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "service/service.h"

namespace cnet::api {

class MetricsServer {
 public:
  explicit MetricsServer(service::Service& svc);
  ~MetricsServer();
  // Binds host:port (port 0: any free port, see port()). Fails naming the address.
  Status Bind(const std::string& host, int port);
  int port() const { return port_; }
  void Start();  // after Bind
  void Stop();   // idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace cnet::api
