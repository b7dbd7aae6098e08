#include "api/metrics_server.h"

#include <httplib.h>

#include <chrono>

#include "api/routes.h"

namespace cnet::api {

struct MetricsServer::Impl {
  service::Service& svc;
  httplib::Server srv;
};

MetricsServer::MetricsServer(service::Service& svc) : impl_(new Impl{svc, {}}) {
  impl_->srv.new_task_queue = [] { return new httplib::ThreadPool(2); };
  impl_->srv.set_payload_max_length(1 << 16);
  impl_->srv.set_read_timeout(5, 0);
  impl_->srv.set_write_timeout(5, 0);
}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Bind(const std::string& host, int port) {
  const auto& cfg = impl_->svc.config();
  std::vector<std::string> names = cfg.allowed_hosts;
  if (!names.empty()) names.push_back(host);
  auto hosts = std::make_shared<const HostAllowList>(HostAllowList::For(host, names));
  RegisterMetricsRoute(impl_->srv, impl_->svc, hosts);
  const std::string where = host + ":" + std::to_string(port);
  if (port == 0) {
    port_ = impl_->srv.bind_to_any_port(host.c_str());
    if (port_ <= 0) return Status(Code::kUnavailable, "--metrics-listen: cannot bind " + where);
  } else {
    if (!impl_->srv.bind_to_port(host.c_str(), port))
      return Status(Code::kUnavailable, "--metrics-listen: cannot listen on " + where + " (in use, or not permitted)");
    port_ = port;
  }
  return Status::Ok();
}

void MetricsServer::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { impl_->srv.listen_after_bind(); });
  // httplib's stop() does nothing before the listen loop runs: wait for it, so Stop cannot be lost.
  for (int i = 0; i < 5000 && !impl_->srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->srv.stop();
  thread_.join();
}

}  // namespace cnet::api
