// `cnet serve`: the dispatch service on HTTP until SIGINT or SIGTERM.
//
// Stopping: SIGINT and SIGTERM are blocked before any thread exists (so every thread the service
// starts inherits the mask and none of them can be killed by one); a dedicated thread waits for
// them with sigwait, then stops the HTTP server. The main thread then stops the service (the tick
// in progress finishes; running jobs keep running and are re-adopted on restart) and exits 0.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/data_paths.h"
#include "common/log.h"
#include "api/http_server.h"
#include "api/metrics_server.h"
#include "api/tls_context.h"

namespace cnet {

namespace {

struct ServeArgs {
  std::string config, addr, data, metrics_listen;
  std::vector<std::string> allowed_hosts;
  bool init = false;
  bool allow_root_jobs = false;
  std::string log_level = "info", log_file;
  // Request bounds and TLS; unset (<= 0 / empty) = the config's.
  int64_t max_body_bytes = 0;
  int max_connections = 0, max_connections_per_client = 0;
  double request_deadline_s = 0;
  std::string tls_cert, tls_key;
};

// The flags over the config file's values; the same ranges as the file (config.cc).
Status ApplyServeFlags(const ServeArgs& a, service::ServiceConfig* cfg) {
  if (a.max_body_bytes > 0) {
    if (a.max_body_bytes < 1024 || a.max_body_bytes > (64 << 20)) return InvalidArgument("--max-body-bytes: must be between 1024 and 67108864");
    cfg->limits.max_body_bytes = static_cast<size_t>(a.max_body_bytes);
  }
  if (a.max_connections > 0) cfg->http.max_connections = a.max_connections;
  if (a.max_connections_per_client > 0) cfg->http.max_connections_per_client = a.max_connections_per_client;
  if (cfg->http.max_connections_per_client > cfg->http.max_connections)
    return InvalidArgument("--max-connections-per-client: must not exceed --max-connections (" + std::to_string(cfg->http.max_connections) + ")");
  if (a.request_deadline_s > 3600) return InvalidArgument("--request-deadline: at most 3600 seconds");
  if (a.request_deadline_s > 0) cfg->http.request_deadline_s = a.request_deadline_s;
  if (!a.tls_cert.empty()) cfg->tls.cert_file = a.tls_cert;
  if (!a.tls_key.empty()) cfg->tls.key_file = a.tls_key;
  if (cfg->tls.cert_file.empty() != cfg->tls.key_file.empty())
    return InvalidArgument(std::string(cfg->tls.cert_file.empty() ? "--tls-cert" : "--tls-key") + ": give both --tls-cert and --tls-key");
  return Status::Ok();
}

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits in its own thread for SIGINT/SIGTERM (which must be blocked in every thread), then calls
// stop() until Finish() says the server has returned (HttpServer::Stop does nothing before Run has
// started listening, so a signal during start-up is not lost). Finish() ends the wait without a
// signal too, and joins the thread.
class StopSignalWaiter {
 public:
  StopSignalWaiter(std::shared_ptr<spdlog::logger> log, std::function<void()> stop)
      : log_(std::move(log)), stop_(std::move(stop)), thread_([this] { Wait(); }) {}
  ~StopSignalWaiter() { Finish(); }
  StopSignalWaiter(const StopSignalWaiter&) = delete;
  StopSignalWaiter& operator=(const StopSignalWaiter&) = delete;

  void Finish() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    // Wakes sigwait if no signal came: SIGTERM directed at that thread, where it is blocked, stays
    // pending there and is taken by its sigwait (never by the process's default action).
    if (!signalled_.load()) pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  void Wait() {
    sigset_t set = StopSignals();
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::unique_lock<std::mutex> l(mu_);
    if (finished_) return;  // woken by Finish()
    signalled_ = true;
    log_->info("received {}; stopping", strsignal(sig));
    while (!finished_) {
      stop_();
      cv_.wait_for(l, std::chrono::milliseconds(20));
    }
  }

  std::shared_ptr<spdlog::logger> log_;
  std::function<void()> stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;             // guarded by mu_
  std::atomic<bool> signalled_{false};
  std::thread thread_;                // last member: started once the others exist
};

Status RunServe(const ServeArgs& a, const char* argv0) {
  // First, while this is the only thread: every thread started from here on inherits the mask.
  sigset_t stop_signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CNET_ASSIGN_OR_RETURN(auto log, MakeLogger({.level = a.log_level, .file = a.log_file, .component = "serve"}));
  service::ServiceConfig cfg = service::DefaultConfig();
  if (!a.config.empty()) {
    CNET_ASSIGN_OR_RETURN(cfg, service::LoadConfig(a.config));
  }
  if (!a.addr.empty()) CNET_RETURN_IF_ERROR(service::ParseAddr(a.addr, &cfg.host, &cfg.port));
  if (!a.data.empty()) cfg.data_dir = a.data;
  if (!a.metrics_listen.empty()) cfg.metrics_listen = a.metrics_listen;
  if (!a.allowed_hosts.empty()) cfg.allowed_hosts = a.allowed_hosts;
  std::string metrics_host;
  int metrics_port = 0;
  if (!cfg.metrics_listen.empty())
    CNET_RETURN_IF_ERROR(service::ParseAddr(cfg.metrics_listen, &metrics_host, &metrics_port));
  CNET_RETURN_IF_ERROR(ApplyServeFlags(a, &cfg));
  if (!cfg.tls.cert_file.empty()) CNET_RETURN_IF_ERROR(api::MakeServerTlsContext(cfg.tls).status());  // fail before starting anything
  cfg.allow_root_jobs = cfg.allow_root_jobs || a.allow_root_jobs;
  std::string cat = cfg.catalogue.empty() ? FindDataFile("accelerators.yaml", argv0) : cfg.catalogue;
  log->info("starting (config {}, data {}, policy {})", a.config.empty() ? "built-in" : a.config, cfg.data_dir,
            cfg.policy);
  service::ServiceDeps deps;
  deps.log = ForComponent(log, "service");
  CNET_ASSIGN_OR_RETURN(auto svc, service::Service::Create(cfg, deps, cat, cfg.throughputs));
  if (a.init) {
    CNET_ASSIGN_OR_RETURN(std::string tok, svc->InitAdminToken());
    if (tok.empty()) log->warn("an admin token exists already; --init created none");
    // The token goes to stdout only (scripts read it there), never into a log file.
    else std::cout << "admin token (shown once; only its hash is stored): " << tok << std::endl;
  }
  api::HttpServer http(*svc);
  CNET_RETURN_IF_ERROR(http.Bind(cfg.host, cfg.port));
  api::MetricsServer metrics(*svc);
  if (!cfg.metrics_listen.empty()) CNET_RETURN_IF_ERROR(metrics.Bind(metrics_host, metrics_port));
  {
    StopSignalWaiter waiter(log, [&http] { http.Stop(); });
    svc->Start();
    if (!cfg.metrics_listen.empty()) {
      metrics.Start();
      log->info("metrics without a token on http://{}:{}/metrics", metrics_host, metrics.port());
    }
    log->info("listening on {}://{}:{}", http.tls() ? "https" : "http", cfg.host, http.port());
    http.Run();
    waiter.Finish();
  }
  metrics.Stop();
  log->info("HTTP server stopped; stopping the scheduling loop");
  svc->Stop();
  log->info("stopped; running jobs keep running and are re-adopted on restart");
  return Status::Ok();
}

}  // namespace

void AddServeCommand(CLI::App& app, int* rc, const char* argv0) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* s = app.add_subcommand("serve", "run the dispatch service (REST API on HTTP or HTTPS)");
  s->add_option("--config", a->config, "service config YAML (default: the embedded default, one local site)");
  s->add_option("--addr", a->addr, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  s->add_option("--data", a->data, "state directory: SQLite file and job runs (default ./cnet-data)");
  s->add_option("--metrics-listen", a->metrics_listen,
                 "HOST:PORT serving /metrics without a token (default: none; on the API /metrics needs an admin token)");
  s->add_option("--allowed-host", a->allowed_hosts,
                "a Host header value the API answers (repeatable; * for any; default: the listen host and localhost names)");
  s->add_flag("--init", a->init, "create a first admin token if none exists and print it once");
  s->add_flag("--allow-root-jobs", a->allow_root_jobs,
              "local site: run jobs of tenants without a usable Unix account as this service's own user (root "
              "included); for single-user machines only, off by default");
  s->add_option("--log-level", a->log_level, "debug, info, warn or error (default info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  s->add_option("--log-file", a->log_file, "also append the log to this file (it always goes to stderr)");
  s->add_option("--max-body-bytes", a->max_body_bytes, "largest request body accepted (default 1048576; config max_body_bytes)");
  s->add_option("--max-connections", a->max_connections, "open connections in all (default 1000; config max_connections)");
  s->add_option("--max-connections-per-client", a->max_connections_per_client,
                "open connections from one IP address (default 64; config max_connections_per_client)");
  s->add_option("--request-deadline", a->request_deadline_s,
                "seconds a client has to send a whole request: line, headers and body (default 10; config request_deadline_s)");
  s->add_option("--tls-cert", a->tls_cert, "serve HTTPS with this PEM certificate (chain); needs --tls-key (config tls_cert)");
  s->add_option("--tls-key", a->tls_key, "the PEM private key of --tls-cert (config tls_key)");
  s->callback([a, rc, argv0] { *rc = ReportError(RunServe(*a, argv0)); });
}

}  // namespace cnet
