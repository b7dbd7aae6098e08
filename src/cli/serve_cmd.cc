#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/data_paths.h"
#include "api/http_server.h"

namespace cnet {

namespace {

struct ServeArgs {
  std::string config, addr, data;
  bool init = false;
};

api::HttpServer* g_server = nullptr;  // for the signal thread only

Status RunServe(const ServeArgs& a, const char* argv0) {
  service::ServiceConfig cfg = service::DefaultConfig();
  if (!a.config.empty()) {
    CNET_ASSIGN_OR_RETURN(cfg, service::LoadConfig(a.config));
  }
  if (!a.addr.empty()) CNET_RETURN_IF_ERROR(service::ParseAddr(a.addr, &cfg.host, &cfg.port));
  if (!a.data.empty()) cfg.data_dir = a.data;
  std::string cat = cfg.catalogue.empty() ? FindDataFile("accelerators.yaml", argv0) : cfg.catalogue;
  CNET_ASSIGN_OR_RETURN(auto svc, service::Service::Create(cfg, service::ServiceDeps{}, cat, cfg.throughputs));
  if (a.init) {
    CNET_ASSIGN_OR_RETURN(std::string tok, svc->InitAdminToken());
    if (tok.empty()) std::cerr << "cnet serve: an admin token exists already; --init created none\n";
    else std::cout << "admin token (shown once; only its hash is stored): " << tok << std::endl;
  }
  api::HttpServer http(*svc);
  CNET_RETURN_IF_ERROR(http.Bind(cfg.host, cfg.port));
  // Signals: block them here, wait for one in a helper thread, then stop the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_server = &http;
  std::thread sig([set]() mutable {
    int s = 0;
    sigwait(&set, &s);
    if (g_server) g_server->Stop();
  });
  sig.detach();
  svc->Start();
  std::cerr << "cnet serve: listening on http://" << cfg.host << ":" << http.port() << " (data " << cfg.data_dir
            << ", policy " << cfg.policy << ")" << std::endl;
  http.Run();
  svc->Stop();
  g_server = nullptr;
  std::cerr << "cnet serve: stopped; running jobs keep running and are re-adopted on restart" << std::endl;
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
  s->callback([a, rc, argv0] { *rc = ReportError(RunServe(*a, argv0)); });
}

}  // namespace cnet
