#include "api/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "api/bounded_server.h"
#include "api/request_gate.h"
#include "api/routes.h"

namespace cnet::api {

struct HttpServer::Impl {
  explicit Impl(service::Service& s) : svc(s) {}
  service::Service& svc;
  std::unique_ptr<BoundedServer> srv;  // made by Bind
};

HttpServer::HttpServer(service::Service& svc) : impl_(std::make_unique<Impl>(svc)) {}

HttpServer::~HttpServer() { Stop(); }

namespace {
// Debian's cpp-httplib 0.11 is a compiled library that listens with a backlog of 5; bursts of new
// connections then overflow it (SYN cookies, 1 s retransmits). Linux lets listen() be called again
// on a listening socket to change its backlog: find ours by its port and raise it.
void RaiseListenBacklog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    int acc = 0;
    socklen_t len = sizeof acc;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc) continue;
    sockaddr_storage a{};
    socklen_t al = sizeof a;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &al) != 0) continue;
    int p = a.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
            : a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port) : -1;
    if (p == port) ::listen(fd, SOMAXCONN);
  }
}
}  // namespace

Status HttpServer::Bind(const std::string& host, int port) {
  if (impl_->srv) return FailedPrecondition("HTTP server: bound already");
  const service::ServiceConfig& cfg = impl_->svc.config();
  SslCtxPtr tls;
  if (!cfg.tls.cert_file.empty() || !cfg.tls.key_file.empty()) {
    CNET_ASSIGN_OR_RETURN(tls, MakeServerTlsContext(cfg.tls));
  }
  impl_->srv = std::make_unique<BoundedServer>(cfg.http, std::move(tls));
  impl_->srv->set_payload_max_length(cfg.limits.max_body_bytes);  // the gate refuses more before reading; this is a backstop
  RegisterRoutes(*impl_->srv, impl_->svc);
  InstallRequestGate(*impl_->srv, impl_->svc);
  if (port == 0) {
    port_ = impl_->srv->bind_to_any_port(host.c_str());
    if (port_ <= 0) return Status(Code::kUnavailable, "cannot bind " + host + ":0");
  } else {
    if (!impl_->srv->bind_to_port(host.c_str(), port))
      return Status(Code::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not permitted)");
    port_ = port;
  }
  RaiseListenBacklog(port_);
  return Status::Ok();
}

bool HttpServer::tls() const { return impl_->srv && impl_->srv->tls(); }
void HttpServer::Run() {
  if (impl_->srv) impl_->srv->listen_after_bind();
}
void HttpServer::Stop() {
  if (impl_ && impl_->srv) impl_->srv->stop();
}

}  // namespace cnet::api
