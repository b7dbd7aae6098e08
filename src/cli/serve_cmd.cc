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

namespace cnet {

namespace {

struct ServeArgs {
  std::string config, addr, data;
  bool init = false;
  bool allow_root_jobs = false;
  std::string log_level = "info", log_file;
};

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
  {
    StopSignalWaiter waiter(log, [&http] { http.Stop(); });
    svc->Start();
    log->info("listening on http://{}:{}", cfg.host, http.port());
    http.Run();
    waiter.Finish();
  }
  log->info("HTTP server stopped; stopping the scheduling loop");
  svc->Stop();
  log->info("stopped; running jobs keep running and are re-adopted on restart");
  return Status::Ok();
}

}  // namespace

void AddServeCommand(CLI::App& app, int* rc, const char* argv0) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* s = app.add_subcommand("serve", "run the dispatch service (REST API on HTTP)");
  s->add_option("--config", a->config, "service config YAML (default: the embedded default, one local site)");
  s->add_option("--addr", a->addr, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  s->add_option("--data", a->data, "state directory: SQLite file and job runs (default ./cnet-data)");
  s->add_flag("--init", a->init, "create a first admin token if none exists and print it once");
  s->add_flag("--allow-root-jobs", a->allow_root_jobs,
              "local site: run jobs of tenants without a usable Unix account as this service's own user (root "
              "included); for single-user machines only, off by default");
  s->add_option("--log-level", a->log_level, "debug, info, warn or error (default info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  s->add_option("--log-file", a->log_file, "also append the log to this file (it always goes to stderr)");
  s->callback([a, rc, argv0] { *rc = ReportError(RunServe(*a, argv0)); });
}

}  // namespace cnet
