// A client of slurmrestd (OpenAPI v0.0.38, Slurm 22.05 as in Debian 12) with JWT auth.
// The token is minted from the cluster's HS256 key file (libjwt; claims sun=<user>, iat, exp) and
// renewed before it expires, or taken as given from the config. All calls are synchronous HTTP (or
// HTTPS, so that the token does not travel in clear) on one keep-alive connection with bounded
// timeouts; errors name the endpoint and Slurm's message, and a failed TLS verification says so.
// Thread-safe (calls are serialised internally).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::backends::slurm {

struct SlurmConfig {
  std::string url = "http://127.0.0.1:6820";  // slurmrestd; https:// verifies its certificate and name
  std::string ca_file;                         // https: PEM CA(s) to verify with ("" = the system's)
  std::string user = "root";                   // X-SLURM-USER-NAME and the token's sun claim
  std::string jwt_key_file;                    // HS256 key (AuthAltParameters=jwt_key=...)
  std::string token;                           // a ready token, used when no key file is given
  double token_lifetime_s = 3600;              // minted tokens live this long; renewed at 80%
  double timeout_s = 5;                        // connect and read timeout per call
};

struct SlurmNode {
  std::string name;
  std::vector<std::string> state;   // e.g. {"IDLE"}, {"MIXED"}, {"DOWN", "NOT_RESPONDING"}, {"IDLE", "DRAIN"}
  int cpus = 0;
  int64_t real_memory_mb = 0;
  std::map<std::string, int> gres;  // "gpu:h100" -> 8 (type-qualified names as Slurm reports them)
  std::vector<std::string> partitions;
  std::string reason;               // why down/drained, if Slurm says
  // Usable for new work: not DOWN, DRAIN(ED/ING), FAIL, FUTURE, NOT_RESPONDING or MAINT.
  bool Usable() const;
};

struct SlurmPartition {
  std::string name;
  std::vector<std::string> nodes;   // expanded names
  std::string state;                // "UP", ...
};

// One Slurm batch job for one computenet job. slurmrestd v0.0.38 refuses a required node list
// ("Disabled key: required_nodes") but takes exclude_nodes: excluding all but the placed nodes
// makes Slurm choose those (batch_script.h).
struct SlurmJobSpec {
  std::string name;                 // e.g. "cnet-42-1": lets a restarted service find it again
  std::string partition;            // "" = default
  std::string account, qos, reservation;  // "" = Slurm's defaults
  int nodes = 1;
  std::string exclude_nodes;        // "node1,node3": nodes Slurm must not choose ("" = none)
  int tasks_per_node = 1;           // one task per worker
  int cpus_per_task = 1;
  std::string gres_per_node;        // e.g. "gpu:h100:8" ("" = none)
  int64_t memory_per_node_mb = 0;   // 0 = Slurm's default
  int time_limit_min = 0;           // 0 = partition default
  std::string working_dir;          // required by slurmrestd
  std::map<std::string, std::string> env;  // at least PATH
  std::string stdout_path, stderr_path;
  std::string script;               // "#!/bin/sh\n..." (the batch script)
  bool hold = false;                // submit held (benchmarks)
  // Whether Slurm may requeue the job itself (node failure, a job vanished across a controller
  // restart). Off for computenet's attempts: computenet owns retries and fences each attempt, and a
  // job Slurm requeues is held PENDING (BeginTime) for minutes only to find its claim taken.
  bool requeue = false;
};

struct SlurmJob {
  int64_t job_id = 0;
  std::string name;
  std::string state;                // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...
  std::string reason;               // state_reason
  int exit_code = 0;                // the batch script's exit code (return code), 128+signal when signalled
  std::vector<std::string> nodes;   // expanded
  std::string cluster;              // Slurm's ClusterName
  double submit_time = 0, start_time = 0, end_time = 0;
  std::string stdout_path, stderr_path;
  bool Terminal() const;
};

class SlurmClient {
 public:
  explicit SlurmClient(SlurmConfig cfg);
  ~SlurmClient();

  Status Ping();                                     // GET /slurm/v0.0.38/ping
  Result<std::vector<SlurmNode>> Nodes();            // GET /slurm/v0.0.38/nodes
  Result<std::vector<SlurmPartition>> Partitions();  // GET /slurm/v0.0.38/partitions
  // POST /slurm/v0.0.38/job/submit. Success is judged by the returned job_id (slurmrestd may also
  // report error 2042 "held" for a job that was accepted).
  Result<int64_t> Submit(const SlurmJobSpec& spec);
  Result<std::vector<SlurmJob>> Jobs();              // GET /slurm/v0.0.38/jobs (all jobs Slurm still knows)
  Result<SlurmJob> Job(int64_t id);                  // GET /slurm/v0.0.38/job/{id}; kNotFound if unknown
  Status Cancel(int64_t id);                         // DELETE /slurm/v0.0.38/job/{id}
  // The token currently used (minting one if needed); for tests and benchmarks.
  Result<std::string> Token();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnet::backends::slurm
