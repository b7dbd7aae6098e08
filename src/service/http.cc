#include "service/http.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <thread>

#include "common/csv.h"

namespace cnet::service {

using nlohmann::json;

namespace {

// "workers: must be ..." -> "workers" (the field a message starts with), "" if none.
std::string FieldOf(const std::string& m) {
  size_t c = m.find(": ");
  if (c == std::string::npos || c > 80) return "";
  std::string f = m.substr(0, c);
  for (char ch : f)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '[' || ch == ']' || ch == '-'))
      return "";
  return f;
}

void SendError(httplib::Response& res, int status, const std::string& msg) {
  res.status = status;
  json e{{"error", {{"status", status}, {"message", msg}}}};
  std::string f = FieldOf(msg);
  if (!f.empty()) e["error"]["field"] = f;
  res.set_content(e.dump(), "application/json");
}

void SendJson(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

template <typename T>
bool Unwrap(const ApiResult<T>& r, httplib::Response& res) {
  if (const ApiError* e = std::get_if<ApiError>(&r)) {
    SendError(res, e->http, e->message);
    return false;
  }
  return true;
}

std::optional<int64_t> PathId(const httplib::Request& req) {
  auto v = ParseInt(req.matches[1]);
  if (!v || *v <= 0) return std::nullopt;
  return *v;
}

}  // namespace

struct HttpServer::Impl {
  Service& svc;
  httplib::Server srv;
  explicit Impl(Service& s) : svc(s) {}

  // Wraps a handler with authentication and metrics.
  template <typename F>
  httplib::Server::Handler Authed(const std::string& route, F f) {
    return [this, route, f](const httplib::Request& req, httplib::Response& res) {
      double t0 = MonotonicSeconds();
      std::string auth = req.get_header_value("Authorization");
      std::optional<Caller> c;
      if (auth.rfind("Bearer ", 0) == 0) c = svc.Authenticate(auth.substr(7));
      if (!c) {
        res.set_header("WWW-Authenticate", "Bearer");
        SendError(res, 401, auth.empty() ? "Authorization: missing bearer token" : "Authorization: unknown or malformed token");
      } else {
        f(*c, req, res);
      }
      svc.metrics().ObserveRequest(route, res.status, MonotonicSeconds() - t0);
    };
  }

  void Routes() {
    const api::Limits& L = svc.config().limits;
    srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, {{"status", "ok"}}); });
    srv.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(svc.metrics().Render(), "text/plain; version=0.0.4");
    });
    srv.Get("/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(OpenApiDocument(), "application/json");
    });
    srv.Post("/v1/jobs", Authed("/v1/jobs", [this, L](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      if (req.body.size() > L.max_body_bytes)
        return SendError(res, 413, "body: larger than " + std::to_string(L.max_body_bytes) + " bytes");
      auto fmt = api::FormatFromContentType(req.get_header_value("Content-Type"));
      if (!fmt) return SendError(res, 415, "Content-Type: use application/json or application/yaml");
      auto parsed = api::ParseJobRequest(req.body, *fmt, L);
      if (!parsed.ok()) return SendError(res, 400, parsed.status().message());
      auto r = svc.Submit(c, *parsed, req.get_header_value("Idempotency-Key"));
      if (!Unwrap(r, res)) return;
      const auto& s = std::get<Service::Submitted>(r);
      if (!s.created) res.set_header("Idempotent-Replayed", "true");
      res.set_header("Location", "/v1/jobs/" + std::to_string(s.job.id));
      SendJson(res, s.created ? 201 : 200, svc.JobJson(s.job, false));
    }));
    srv.Get("/v1/jobs", Authed("/v1/jobs", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      store::JobFilter f;
      for (const auto& [k, v] : req.params) {
        if (k == "state") {
          auto s = store::ParseState(v);
          if (!s) return SendError(res, 400, "state: unknown state '" + v + "'");
          f.state = s;
        } else if (k == "tenant") f.tenant = v;
        else if (k == "name_prefix") f.name_prefix = v;
        else if (k == "label") f.label = v;
        else if (k == "after") {
          auto a = ParseInt(v);
          if (!a || *a < 0) return SendError(res, 400, "after: a job id");
          f.after_id = *a;
        } else if (k == "limit") {
          auto a = ParseInt(v);
          if (!a || *a < 1 || *a > 1000) return SendError(res, 400, "limit: between 1 and 1000");
          f.limit = static_cast<int>(*a);
        } else return SendError(res, 400, k + ": unknown query parameter");
      }
      auto r = svc.ListJobs(c, f);
      if (Unwrap(r, res)) SendJson(res, 200, std::get<json>(r));
    }));
    srv.Get(R"(/v1/jobs/(\d+))", Authed("/v1/jobs/{id}", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      auto id = PathId(req);
      if (!id) return SendError(res, 400, "id: not a job id");
      auto r = svc.GetJob(c, *id);
      if (Unwrap(r, res)) SendJson(res, 200, std::get<json>(r));
    }));
    auto cancel = Authed("/v1/jobs/{id}/cancel", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      auto id = PathId(req);
      if (!id) return SendError(res, 400, "id: not a job id");
      auto r = svc.Cancel(c, *id);
      if (Unwrap(r, res)) SendJson(res, 202, std::get<json>(r));
    });
    srv.Post(R"(/v1/jobs/(\d+)/cancel)", cancel);
    srv.Delete(R"(/v1/jobs/(\d+))", cancel);
    srv.Get(R"(/v1/jobs/(\d+)/logs)", Authed("/v1/jobs/{id}/logs", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      auto id = PathId(req);
      if (!id) return SendError(res, 400, "id: not a job id");
      std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "stdout";
      int attempt = 0;
      if (req.has_param("attempt")) {
        auto a = ParseInt(req.get_param_value("attempt"));
        if (!a || *a < 1) return SendError(res, 400, "attempt: a positive number");
        attempt = static_cast<int>(*a);
      }
      bool follow = req.has_param("follow") && (req.get_param_value("follow") == "1" || req.get_param_value("follow") == "true");
      auto r = svc.LogPath(c, *id, stream, attempt);
      if (!Unwrap(r, res)) return;
      std::string path = std::get<std::pair<std::string, bool>>(r).first;
      int64_t jid = *id;
      res.status = 200;
      res.set_chunked_content_provider("text/plain", [this, path, jid, follow](size_t offset, httplib::DataSink& sink) {
        std::ifstream in(path, std::ios::binary);
        if (in) {
          in.seekg(static_cast<std::streamoff>(offset));
          char buf[65536];
          in.read(buf, sizeof buf);
          std::streamsize n = in.gcount();
          if (n > 0) return sink.write(buf, static_cast<size_t>(n));
        }
        if (!follow || svc.IsTerminal(jid)) {
          // A last read after the job ended, then done.
          sink.done();
          return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return sink.is_writable();
      });
    }));
    srv.Get("/v1/sites", Authed("/v1/sites", [this](const Caller&, const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, svc.Sites());
    }));
    srv.Get("/v1/usage", Authed("/v1/usage", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      auto r = svc.Usage(c, req.has_param("tenant") ? req.get_param_value("tenant") : "");
      if (Unwrap(r, res)) SendJson(res, 200, std::get<json>(r));
    }));
    srv.Get(R"(/v1/tenants/([A-Za-z0-9._-]+)/usage)", Authed("/v1/tenants/{name}/usage", [this](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      auto r = svc.Usage(c, req.matches[1]);
      if (Unwrap(r, res)) SendJson(res, 200, std::get<json>(r));
    }));
    auto json_body = [](const httplib::Request& req, httplib::Response& res, json* out) {
      if (req.body.size() > (1 << 16)) { SendError(res, 413, "body: larger than 65536 bytes"); return false; }
      try {
        *out = json::parse(req.body);
      } catch (const json::exception& e) {
        SendError(res, 400, std::string("body: not valid JSON: ") + e.what());
        return false;
      }
      return true;
    };
    srv.Put("/v1/tenants", Authed("/v1/tenants", [this, json_body](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      json b;
      if (!json_body(req, res, &b)) return;
      auto r = svc.PutTenant(c, b);
      if (Unwrap(r, res)) SendJson(res, 200, std::get<json>(r));
    }));
    srv.Post("/v1/tokens", Authed("/v1/tokens", [this, json_body](const Caller& c, const httplib::Request& req, httplib::Response& res) {
      json b;
      if (!json_body(req, res, &b)) return;
      auto r = svc.CreateToken(c, b);
      if (Unwrap(r, res)) SendJson(res, 201, std::get<json>(r));
    }));
    srv.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) {
        std::string m = res.status == 404 ? "path: no such endpoint (see /v1/openapi.json)"
                        : res.status == 413 ? "body: too large" : "request: " + std::to_string(res.status);
        SendError(res, res.status, m);
      }
    });
    srv.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try { if (ep) std::rethrow_exception(ep); } catch (const std::exception& e) { what = e.what(); } catch (...) {}
      SendError(res, 500, "server: " + what);
    });
  }
};

HttpServer::HttpServer(Service& svc) : impl_(std::make_unique<Impl>(svc)) {
  int threads = svc.config().http_threads;
  impl_->srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  impl_->srv.set_payload_max_length(64u << 20);  // larger bodies are cut off; the routes enforce the real limits
  impl_->srv.set_keep_alive_max_count(100000);
  // Without TCP_NODELAY, httplib's separate header and body writes meet the client's delayed ACK:
  // ~40 ms per request on a keep-alive connection (measured by bench/submit_bench.sh).
  impl_->srv.set_tcp_nodelay(true);
  impl_->srv.set_read_timeout(30, 0);
  impl_->Routes();
}

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
  if (port == 0) {
    port_ = impl_->srv.bind_to_any_port(host.c_str());
    if (port_ <= 0) return Status(Code::kUnavailable, "cannot bind " + host + ":0");
  } else {
    if (!impl_->srv.bind_to_port(host.c_str(), port))
      return Status(Code::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not permitted)");
    port_ = port;
  }
  RaiseListenBacklog(port_);
  return Status::Ok();
}

void HttpServer::Run() { impl_->srv.listen_after_bind(); }
void HttpServer::Stop() {
  if (impl_) impl_->srv.stop();
}

}  // namespace cnet::service
