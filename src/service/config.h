// Service configuration: `cnet serve --config FILE` (YAML, docs/formats.md), or the embedded
// default (one local site made of this machine). Value type.
// The service reads the keys every site shares (name, type, region, power_cap_kw, price_per_hour_usd, device_env,
// inventory_interval_s, redispatch_after_s, redispatch_unconfirmed_after_s); the rest of a site's block belongs to its backend,
// whose factory (src/backends/registry.h) parses and checks it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "api/http_limits.h"
#include "api/job_request.h"
#include "common/status.h"
#include "sched/estimate/temporal_shift.h"
#include "model/job.h"
#include "sched/estimate/economics.h"
#include "service/power_budget.h"

namespace cnet::service {

struct SiteConfig {
  std::string name = "local";
  std::string type = "local";       // a type of the backend registry: local, slurm, fake
  std::string region = "local";
  double power_cap_kw = 1000;
  std::vector<BudgetWindow> power_budget;  // demand-response windows (service/power_budget.h)
  // The variable through which workers see their devices; "" = by the accelerator's kind
  // (CUDA_VISIBLE_DEVICES for GPUs, ASCEND_RT_VISIBLE_DEVICES for NPUs).
  std::string device_env;
  double inventory_interval_s = 2;  // backends with a changing inventory are re-read this often
  // A job submitted here that has not started is withdrawn and dispatched again (to any site its
  // spec allows) once the site has been unreachable this long; 0 = never.
  double redispatch_after_s = 120;
  // The same for an attempt whose submit got no answer (LaunchResult::unconfirmed) and that the
  // site has not confirmed since: such a submit marks the site suspect at once, so this counts
  // from about the submit's timeout (docs/formats.md (j): the bound). 0 = as redispatch_after_s; never
  // when redispatch_after_s is 0.
  double redispatch_unconfirmed_after_s = 10;
  // Up to this many jobs that wait only for capacity here are dispatched before it frees, pinned to
  // the nodes they will take, so the site starts them the moment those free (service/queue_ahead.h;
  // docs/formats.md). Only for sites whose backend submits and can withdraw (Slurm). 0 = off.
  int queue_ahead = 0;
  // Facts residency policies are written over (service/site_attributes.h, docs/data.md); always
  // holds `region`.
  std::map<std::string, std::string> attributes;
  YAML::Node block;                 // the site's whole mapping, for its backend
  std::string where;                // "file: sites[i]" for error messages
  std::string file, path;           // the config file ("" = embedded) and "sites[i]": a key's errors name its line
};

// The keys above: the service reads them, backends accept and ignore them.
const std::set<std::string>& SharedSiteKeys();

struct TenantConfig {
  std::string name;
  std::map<std::string, int> max_accelerators;  // type -> limit, "*" all types
  int max_queued_jobs = 0;
  std::string unix_user;  // "" = as recorded, else cnet-<name>
  Objective objective = Objective::kFastest;  // for the tenant's jobs that name none
};

struct ServiceConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string data_dir = "cnet-data";
  std::string policy = "backfill";
  std::string catalogue;       // "" = data/accelerators.yaml found beside the program
  std::vector<std::string> catalogue_extensions;  // files extending `catalogue`, in order
  std::string throughputs;     // optional matrix for job_type estimates
  double cycle_interval_s = 0.1;
  // elastic-hetero: its rounds (a resize, move or rotation happens only at a round's start) and
  // the restore cost charged for a restart of a job whose spec gives none (docs/elastic.md).
  double round_s = 360;
  double restore_s = 60;
  // Temporal shifting (docs/energy.md): a greenest job with a deadline may wait for a lower-carbon
  // window the sites' signals predict; absent (nullopt): jobs are queued at once.
  std::optional<ShiftOptions> temporal_shift;
  double integrity_check_s = 30;  // bound on the start-up database check (store::OpenOptions); 0 = skip
  int http_threads = 128;  // no longer used: each connection has its own thread (http.max_connections)
  api::Limits limits;
  api::HttpLimits http;    // connections, request deadline, list size (docs/formats.md)
  api::TlsFiles tls;       // tls_cert, tls_key: HTTPS instead of HTTP
  std::vector<SiteConfig> sites;
  std::vector<TenantConfig> tenants;
  // Site prices (sites[i].price_per_hour_usd) and the network between sites (`network:`);
  // Service::Create resolves it against the catalogue (docs/dispatch.md).
  std::shared_ptr<SiteEconomics> economics = std::make_shared<SiteEconomics>();
  // Host header values the API answers; empty = the listen host and localhost names (api/host_check.h).
  std::vector<std::string> allowed_hosts;
  // "HOST:PORT" where /metrics is served without a token; "" = none (on the API it needs an admin token).
  std::string metrics_listen;
  // Local sites may run jobs as the service's own user (root included) when a tenant has no
  // usable account (single-user machines; cnet serve --allow-root-jobs).
  bool allow_root_jobs = false;
};

// The embedded default: one local site, detected resources.
ServiceConfig DefaultConfig();
SiteConfig DefaultLocalSite();
// Loads a YAML config; errors name the file, line and field.
Result<ServiceConfig> LoadConfig(const std::string& path);
// "127.0.0.1:8080" -> host, port.
Status ParseAddr(const std::string& addr, std::string* host, int* port);

}  // namespace cnet::service
