// A Slurm cluster behind the SiteBackend contract, through slurmrestd (SlurmClient). One
// computenet job attempt becomes one Slurm batch job named cnet-<job>-<attempt> running exactly
// the request's shape (batch_script.h: the placed nodes, by excluding all others, and per-node task
// counts; each worker's devices through the vendor's variable).
//
// Threads and locks: a refresher thread reads nodes every inventory_interval_s and jobs every
// poll_interval_s, its runs' started and exit files every 0.1 s (a start or a completion is
// reported within that, not at the next poll), delivers queued cancels, and turns what it saw into events. All network I/O and
// file writes (fence, exit files, the inventory cache) happen outside the lock that Inventory,
// Poll and Kill take, so those never wait on slurmrestd or on the file system. Launch waits on a
// submit (one of submit_connections connections); Withdraw and FindInterrupted may wait too.
//
// Failures: an unreachable slurmrestd or a slurmctld that does not answer marks the site
// unhealthy, the reason saying which; nothing is lost. A submit that gets no answer marks it
// unhealthy at once (LaunchResult::unconfirmed) until the next read that succeeds. Kill while Slurm is unreachable is kept and
// delivered when it answers; a run that had not started is then fenced off and reported killed at
// once. Each attempt's run directory (<output_dir>/<job>/<attempt>, shared with the nodes) is its
// fence (the script and Withdraw race to mkdir `claim`) and keeps its exit code. The last
// inventory read is kept in <data_dir>/sites/<name>.json, so a restart while Slurm is down still
// knows the site's nodes. Capabilities: submitted (not started) at Launch, withdrawable, dynamic
// inventory, launch_concurrency = submit_connections.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "backends/registry.h"
#include "backends/site_backend.h"

namespace cnet::backends::slurm {

struct SlurmOptions {
  std::string url;                  // slurmrestd, e.g. http://127.0.0.1:6820 or https://...
  std::string ca_file;              // https: PEM CA(s) to verify slurmrestd with ("" = the system's)
  std::string user = "root";
  std::string jwt_key_file;         // HS256 key to mint tokens with, or:
  std::string token;                // a ready token
  std::string partition;            // "" = the cluster's default
  std::string account, qos, reservation;        // for every job ("" = Slurm's defaults)
  std::map<std::string, std::string> gres_map;  // "gpu:h100" -> "H100-SXM"
  // Jobs are read this often. Starts and ends come sooner from the run directory (started, exit:
  // slurm_exit_files.cc), so the read is for waiting reasons and runs Slurm lost or ended itself;
  // each read lists every job slurmctld keeps (MinJobAge: ended ones for 5 minutes by default),
  // which costs slurmrestd and slurmctld CPU the cluster's own jobs then lack.
  double poll_interval_s = 5;
  int submit_connections = 4;       // slurmrestd connections submitting at once
  double inventory_interval_s = 2;  // nodes and health are read this often
  std::string output_dir;           // run directories; "" = <data_dir>/slurm; must be shared with the nodes
  double timeout_s = 3;             // per slurmrestd call
  bool cpu_jobs_on_accelerator_nodes = true;  // SiteNode::cpu_jobs for nodes with a mapped GRES
  // An attempt that ended (its exit file) but that Slurm lists pending or running for this long
  // (watched for 10 minutes after its end) is cancelled there: Slurm lost its end (a controller
  // restart) and would hold its node, or requeue it.
  double lost_end_cancel_s = 15;
};

std::unique_ptr<SiteBackend> NewSlurmBackend(std::string name, SlurmOptions opts, std::string data_dir);

// The registry's factory for `type: slurm`: the keys of SlurmOptions (but timeout_s); errors name
// the field. url (http:// or https://) and exactly one of jwt_key_file or token are required;
// ca_file only with https.
Result<std::unique_ptr<SiteBackend>> MakeSlurmBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env);

}  // namespace cnet::backends::slurm
