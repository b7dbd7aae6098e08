// What the service needs from a site backend (local processes, a Slurm cluster, ...). The service
// decides where a job runs (a site and how many of its nodes); the site runs it and reports.
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/job_request.h"
#include "common/status.h"

namespace cnet::service {

// A schedulable node of a site as the scheduling core sees it.
struct SiteNode {
  std::string name;         // unique within the site
  std::string accelerator;  // catalogue name, or "" for a CPU-only node
  int accelerators = 0;
  int cpus = 0;
  double memory_gib = 0;
  bool usable = true;       // false: down, drained, unreachable
  std::string reason;       // why not usable
};

struct SiteInventory {
  bool healthy = true;
  std::string reason;       // why unhealthy
  std::vector<SiteNode> nodes;
};

// One placed job, as the site should run it.
struct SiteLaunch {
  int64_t job_id = 0;
  int attempt = 1;
  const api::JobRequest* req = nullptr;
  int nodes = 1;                            // nodes the placement spans
  std::string accelerator;                  // catalogue type, "" for CPU-only
  std::vector<std::vector<int>> devices;    // local site: device ids per worker
  std::string device_env = "CUDA_VISIBLE_DEVICES";
};

struct SiteEvent {
  // kRequeue: the site lost the run before its command started (e.g. a Slurm controller crash
  // dropped the queued job) and has fenced it off: the job may be dispatched again.
  // kNote: why a dispatched job has not started yet, in the site's words (e.g. Slurm's reason).
  enum Kind { kStarted, kEnded, kRequeue, kNote } kind = kEnded;
  int64_t job_id = 0;
  bool success = false;
  int exit_code = 0;
  bool killed = false;
  std::string reason;
  std::string runtime_json;  // kStarted: the run's handle, if it changed
};

class Site {
 public:
  virtual ~Site() = default;
  virtual const std::string& name() const = 0;
  virtual std::string type() const = 0;  // "local", "slurm"
  // The site's nodes and health now (may contact the backend; bounded time).
  virtual SiteInventory Inventory() = 0;
  // Starts (local) or submits (slurm) a job. Returns the run's handle (runtime_json), and in `info`
  // whether the job already runs (local) or will be reported by a later kStarted (slurm), and a
  // note for the job's history (e.g. a submission whose outcome is not known yet). An error means
  // nothing was started; kUnavailable: the site could not be reached (try again later).
  struct LaunchInfo {
    bool started = false;
    std::string note;
  };
  virtual Result<std::string> Launch(const SiteLaunch& l, LaunchInfo* info) = 0;
  // How many Launch calls the service may run at once on this site (1: one at a time).
  virtual int LaunchConcurrency() const { return 1; }
  // Jobs that started or ended since the last call.
  virtual std::vector<SiteEvent> Poll(double now) = 0;
  // Stops a run. May return before the run has stopped (it is reported by Poll); a site that cannot
  // be reached now keeps the request and carries it out when it answers again.
  virtual Status Kill(int64_t job_id, const std::string& reason) = 0;
  // Makes sure attempt `attempt` of a dispatched job never starts its command, so that the job may
  // be dispatched elsewhere: true if it had not started (it never will now; the site forgets it),
  // false if it has started or the site cannot promise it (local runs start at Launch).
  virtual bool Withdraw(int64_t job_id, int attempt) = 0;
  // After a restart: takes a job back from its handle; false if it is gone without a trace.
  virtual bool Adopt(int64_t job_id, const std::string& runtime_json) = 0;
  // After a restart: a job whose dispatch a crash interrupted (SCHEDULED, no handle recorded):
  // its handle if the site has it or cannot tell yet, else nullopt (it never started, and never
  // will: safe to dispatch again).
  virtual std::optional<std::string> FindInterrupted(int64_t job_id, int attempt) = 0;
  virtual std::string LogPath(int64_t job_id, int attempt, const std::string& stream) = 0;
};

}  // namespace cnet::service
