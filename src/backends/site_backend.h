// The site backend contract: what the service needs from a place that runs jobs (this machine's
// processes, a Slurm cluster, an in-memory fake for tests; Kubernetes later). The service decides
// where a job runs, down to the exact shape (which nodes, how many workers on each); a backend
// runs exactly that shape and reports what happened. Every backend passes the same contract suite
// (tests/contract/backend_contract_test.cc).
//
// Threading: every method may be called from any thread, and concurrently with the others.
// Blocking: Inventory, Poll, Kill and LogPath never wait on the network (backends that talk to a
// remote controller cache what they read in a thread of their own and queue what they send).
// Launch may wait on the network (a Slurm submit); the service calls it from its launcher
// threads, never from its control loop. Withdraw, Adopt and FindInterrupted may wait too; they are
// called at start-up recovery and for re-dispatch, off the loop thread where that matters.
// Time: `now` arguments are epoch seconds from the service's (injectable) clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cnet::backends {

// A schedulable node of a site as the scheduling core sees it.
struct SiteNode {
  std::string name;         // unique within the site
  std::string accelerator;  // catalogue name, or "" for a CPU-only node
  int accelerators = 0;
  int cpus = 0;
  double memory_gib = 0;
  bool usable = true;       // false: down, drained, no longer reported
  std::string reason;       // why not usable
  // An accelerator node whose free CPUs also take CPU-only jobs: the service models its CPUs as a
  // second, CPU-only scheduler node of the same name (service/cluster_view.h). GPU jobs' own CPUs
  // are not subtracted there; the site's scheduler has the last word (a CPU job may then pend).
  bool cpu_jobs = false;
};

struct SiteInventory {
  // False until the backend has read its site once (a backend that reads in a thread of its own,
  // right after it is built): the service waits, bounded, for the first read at start.
  bool read = true;
  bool healthy = true;
  std::string reason;       // why unhealthy, naming what failed (e.g. "slurmctld: ...")
  std::vector<SiteNode> nodes;
};

// What a backend can and cannot do; the service branches on these, never on a type name.
struct Capabilities {
  // Launch returns with the job's processes running (the local site). Otherwise the run is
  // submitted and a later Poll reports kStarted (Slurm).
  bool starts_at_launch = false;
  // Withdraw can succeed (a submitted, not yet started attempt can be fenced off).
  bool can_withdraw = false;
  // The node list may change while the service runs (nodes added, removed, down): the service
  // re-reads Inventory() every inventory_interval_s. Otherwise Inventory() is read once.
  bool dynamic_inventory = false;
  // How many Launch calls the service may run at once on this site.
  int launch_concurrency = 1;
  // Launch honours LaunchRequest::any_of: the site itself picks the node of a one-node request
  // when it starts the run, and kStarted names it (SiteEvent::nodes).
  bool chooses_node = false;
};

// The workers placed on one node.
struct NodeShare {
  std::string node;  // SiteNode::name
  int workers = 0;
  bool operator==(const NodeShare&) const = default;
};

// One input dataset a run copies before its command starts (stage-in, backends/stage_in.h).
struct StageItem {
  std::string name;    // the dataset; the run finds its copy at $CNET_INPUT_<NAME> (InputEnvName)
  std::string source;  // where the site's nodes read it: a path (cp -a) or host:path (rsync -a)
  bool operator==(const StageItem&) const = default;
};

// One placed job, as the backend must run it: exactly `nodes`, in order; worker ranks are
// assigned node by node (node 0 runs ranks 0..w0-1, node 1 the next w1, ...).
struct LaunchRequest {
  int64_t job_id = 0;
  int attempt = 1;                              // 1-based
  std::string tenant;
  // The tenant's Unix account (store::TenantRow::unix_user, default "cnet-<tenant>"): the local
  // site runs the job's processes as it; "" = none mapped. The fake backend ignores it; the Slurm
  // backend ignores it for now (jobs run as slurmrestd's JWT user).
  std::string unix_user;
  std::string name;                             // the job's name, for display
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string working_dir;                      // "" = the run directory
  std::string accelerator;                      // catalogue name, "" = CPU only
  int accelerators_per_worker = 0;              // 0: CPU only
  int cpus_per_worker = 1;
  double memory_gib_per_worker = 0;             // 0 = unspecified
  // The variable through which a worker sees its devices: CUDA_VISIBLE_DEVICES,
  // ASCEND_RT_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES; "" when the job has no accelerators.
  std::string device_env;
  std::vector<NodeShare> nodes;                 // the exact shape the scheduler reserved
  // A one-node request the site may run on any of these nodes instead of nodes[0] (which is one of
  // them), the site choosing when it starts it (Capabilities::chooses_node; service/queue_ahead.h).
  // Empty: exactly `nodes`.
  std::vector<std::string> any_of;
  double time_limit_s = 0;                      // 0 = none
  // Inputs the site lacks, copied into the run's inputs directory before the command starts, by
  // the job's own account (so it reads only what the job itself may read); the copy's bytes and
  // seconds come back in kEnded's kStageInBytesField / kStageInSecondsField. Inputs the site holds
  // are named in `env` (CNET_INPUT_<NAME>) by the service.
  std::vector<StageItem> stage_in;

  int workers() const {
    int w = 0;
    for (const NodeShare& n : nodes) w += n.workers;
    return w;
  }
};

struct LaunchResult {
  std::string handle;     // opaque; stored by the service and given back to Adopt after a restart
  bool started = false;   // the run already runs (starts_at_launch backends)
  std::string note;       // for the job's history (e.g. "Slurm job 17")
  // The submit got no answer (timeout, lost connection): the site may or may not hold the run.
  // The backend finds it (kNote/kStarted) or fences it off (kRequeue) once the site answers, and
  // Withdraw fences it off meanwhile; the service re-dispatches such an attempt sooner
  // (SiteConfig::redispatch_unconfirmed_after_s) than a confirmed one.
  bool unconfirmed = false;
  // Device ids each worker was given (rank order), where the backend picks them; else empty.
  std::vector<std::vector<int>> devices;
};

struct SiteEvent {
  // kStarted: a submitted run started. kEnded: a run ended (success, exit code, reason).
  // kRequeue: the site lost the run before its command started and has fenced it off: the job
  // may be dispatched again. kNote: why a dispatched job has not started yet, in the site's words.
  enum Kind { kStarted, kEnded, kRequeue, kNote } kind = kEnded;
  int64_t job_id = 0;
  int attempt = 0;          // 0 = not known to the backend
  bool success = false;
  int exit_code = 0;
  bool killed = false;      // ended by Kill
  bool timed_out = false;   // ended by its time limit
  bool oom_killed = false;  // killed for lack of memory at its limit (cgroup OOM, Slurm OUT_OF_MEMORY)
  std::string reason;
  std::string handle;       // kStarted: the run's handle, if it changed
  std::vector<std::string> nodes;  // kStarted: the nodes the run started on, where the backend knows them
  std::map<std::string, std::string> fields;  // e.g. {"slurm_job_id": "17"}
};

// kEnded fields for the energy the site measured for the run (docs/energy.md, "Measured energy"):
// joules as a decimal number, and the source ("rapl", "nvidia-smi", "rapl+nvidia-smi", "slurm").
// Absent: not measured; the service then estimates it from the model.
inline constexpr const char* kEnergyJoulesField = "energy_j";
inline constexpr const char* kEnergySourceField = "energy_source";
// kEnded fields for the run's stage-in (LaunchRequest::stage_in): bytes copied and seconds taken.
inline constexpr const char* kStageInBytesField = "stage_in_bytes";
inline constexpr const char* kStageInSecondsField = "stage_in_s";

enum class WithdrawOutcome {
  kWithdrawn,     // it had not started and never will; the backend forgot it
  kMayRun,        // it started, or the backend cannot promise it will not (local runs start at Launch)
};

enum class AdoptOutcome {
  kAdopted,       // its run is tracked again (running, or ended and reported by the next Poll)
  kGone,          // no trace of it: it ran and ended without leaving an outcome, or never existed
  kNeverStarted,  // its run was set up but provably never began and never will: safe to start again
};

// After a restart, for a dispatch the crash interrupted (no handle recorded).
struct Interrupted {
  enum Kind {
    kNeverStarted,  // it never started and never will: safe to dispatch again
    kFound,         // it exists: `handle` adopts it
    kUnknown,       // the backend cannot tell yet (unreachable): ask again later
  } kind = kUnknown;
  std::string handle;
};

class SiteBackend {
 public:
  virtual ~SiteBackend() = default;
  virtual const std::string& name() const = 0;
  virtual std::string_view type() const = 0;  // the registry's type name, for display only
  virtual Capabilities capabilities() const = 0;
  // The site's nodes and health as last known. Never blocks on the network.
  virtual SiteInventory Inventory() = 0;
  // Runs (or submits) the request. An error means nothing was started; kUnavailable means the
  // site could not be reached (try again later); kInvalidArgument/kFailedPrecondition mean this
  // request can never run here.
  virtual Result<LaunchResult> Launch(const LaunchRequest& req) = 0;
  // Events since the last call. Never blocks on the network.
  virtual std::vector<SiteEvent> Poll(double now) = 0;
  // Stops a run. Returns before it has stopped (a later Poll reports kEnded with killed=true); a
  // backend that cannot reach its site now keeps the request and carries it out when it can.
  // kNotFound: the backend does not know the job.
  virtual Status Kill(int64_t job_id, const std::string& reason) = 0;
  // Makes sure `attempt` of a job never starts its command, so it may be dispatched elsewhere.
  virtual Result<WithdrawOutcome> Withdraw(int64_t job_id, int attempt) = 0;
  // After a restart: takes a run back from its handle.
  virtual Result<AdoptOutcome> Adopt(int64_t job_id, int attempt, const std::string& handle) = 0;
  virtual Interrupted FindInterrupted(int64_t job_id, int attempt) = 0;
  // Path of a run's log file ("stdout" or "stderr"); may not exist yet.
  virtual std::string LogPath(int64_t job_id, int attempt, std::string_view stream) const = 0;
};

}  // namespace cnet::backends
