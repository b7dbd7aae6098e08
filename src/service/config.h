// Service configuration: `cnet serve --config FILE` (YAML, docs/formats.md), or the embedded
// default (one local site made of this machine). Value type.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/job_request.h"
#include "common/status.h"

namespace cnet::service {

struct SiteConfig {
  std::string name = "local";
  std::string type = "local";      // "local" (slurm: later)
  std::string region = "local";
  // Accelerators: declared here, else detected (nvidia-smi). A declared type lets the service run
  // GPU jobs' commands on a machine without the hardware (a demo, a test).
  std::string accelerator;          // catalogue name, "" = detect
  int accelerators = -1;            // -1 = detect
  int cpus = 0;                     // 0 = detect
  double memory_gib = 0;            // 0 = detect
  double power_cap_kw = 1000;
  std::string device_env;           // "" = CUDA_VISIBLE_DEVICES, or ASCEND_RT_VISIBLE_DEVICES for NPUs
  // type: slurm
  std::string url;                  // slurmrestd, e.g. http://127.0.0.1:6820
  std::string user = "root";
  std::string jwt_key_file;         // HS256 key to mint tokens with, or:
  std::string token;                // a ready token
  std::string partition;            // "" = the cluster's default
  std::string account, qos, reservation;  // passed to every job submitted ("" = Slurm's defaults)
  std::map<std::string, std::string> gres_map;  // "gpu:h100" -> "H100-SXM"
  double poll_interval_s = 1;
  int submit_connections = 4;       // slurmrestd connections submitting jobs at once
  double inventory_interval_s = 2;  // nodes and health are re-read this often
  // A job submitted here that has not started is withdrawn and dispatched again (to any site its
  // spec allows) once the site has been unreachable this long; 0 = never.
  double redispatch_after_s = 120;
  std::string output_dir;           // where Slurm writes job output ("" = <data>/slurm); must be readable here for logs
};

struct TenantConfig {
  std::string name;
  std::map<std::string, int> max_accelerators;  // type -> limit, "*" all types
  int max_queued_jobs = 0;
};

struct ServiceConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string data_dir = "cnet-data";
  std::string policy = "backfill";
  std::string catalogue;       // "" = data/accelerators.yaml found beside the program
  std::string throughputs;     // optional matrix for job_type estimates
  double cycle_interval_s = 0.1;
  int http_threads = 128;  // a keep-alive connection holds one while it is open
  api::Limits limits;
  std::vector<SiteConfig> sites;
  std::vector<TenantConfig> tenants;
};

// The embedded default: one local site, detected resources.
ServiceConfig DefaultConfig();
// Loads a YAML config; errors name the file, line and field.
Result<ServiceConfig> LoadConfig(const std::string& path);
// "127.0.0.1:8080" -> host, port.
Status ParseAddr(const std::string& addr, std::string* host, int* port);

}  // namespace cnet::service
