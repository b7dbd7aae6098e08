// The dispatch service's core: accepts jobs (durably, through the store), runs the scheduling
// core (sched::Scheduler, the same one the simulator runs) in a loop thread, dispatches decisions
// onto sites, tracks job lifecycles and recovers after a restart. HTTP lives in http.h; this class
// knows nothing of it. Thread-safe: public methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/job_request.h"
#include "common/clock.h"
#include "common/rng.h"
#include "model/cluster.h"
#include "perf/perf_model.h"
#include "sched/scheduler.h"
#include "service/config.h"
#include "service/metrics.h"
#include "service/site.h"
#include "store/store.h"

namespace cnet::service {

// Who is calling: an admin, or a tenant.
struct Caller {
  std::string tenant;  // "" for admins
  bool admin = false;
};

// An error with the HTTP status it maps to.
struct ApiError {
  int http = 400;
  std::string message;
};
template <typename T>
using ApiResult = std::variant<T, ApiError>;

class Service {
 public:
  // Opens the store under cfg.data_dir, builds the cluster model from the sites, recovers jobs
  // left by a previous run. Does not start the loop.
  static Result<std::unique_ptr<Service>> Create(ServiceConfig cfg, const Clock& clock,
                                                 const std::string& catalogue_path,
                                                 const std::string& throughputs_path);
  ~Service();

  void Start();  // starts the scheduling loop thread
  void Stop();   // stops it (running jobs keep running; a restart re-adopts them)

  // Creates an admin token if none exists; returns it (shown once), or "" if one existed.
  Result<std::string> InitAdminToken();
  // Token -> caller; nullopt if unknown.
  std::optional<Caller> Authenticate(const std::string& bearer);

  struct Submitted {
    store::JobRow job;
    bool created = true;
  };
  ApiResult<Submitted> Submit(const Caller& c, const api::JobRequest& req, const std::string& idempotency_key);
  ApiResult<nlohmann::json> GetJob(const Caller& c, int64_t id);  // with its events
  ApiResult<nlohmann::json> ListJobs(const Caller& c, const store::JobFilter& f);
  ApiResult<nlohmann::json> Cancel(const Caller& c, int64_t id);
  // Log file of a job the caller may read; also whether the job is terminal.
  ApiResult<std::pair<std::string, bool>> LogPath(const Caller& c, int64_t id, const std::string& stream, int attempt);
  bool IsTerminal(int64_t id);
  nlohmann::json Sites();
  ApiResult<nlohmann::json> Usage(const Caller& c, const std::string& tenant);
  ApiResult<nlohmann::json> PutTenant(const Caller& c, const nlohmann::json& body);
  ApiResult<nlohmann::json> CreateToken(const Caller& c, const nlohmann::json& body);

  Metrics& metrics() { return metrics_; }
  const ServiceConfig& config() const { return cfg_; }
  nlohmann::json JobJson(const store::JobRow& r, bool with_events);
  // Runs one loop iteration now (tests).
  void Tick();

 private:
  Service() = default;
  struct Active;  // in-memory state of a job not yet terminal

  Result<JobSpec> ToSpec(const store::JobRow& row, const api::JobRequest& req) const;
  std::optional<ApiError> CheckAdmission(const std::string& tenant, const api::JobRequest& req,
                                         JobSpec* spec) const;
  void Recover();
  void DrainIncoming(double now);
  void ReleaseHeld(double now);
  void HandleExits(double now);
  void DispatchAll(const std::vector<Decision>& places, double now);
  void DispatchBatch(const std::vector<Decision>& places, double now);
  // Back to PENDING (and to the scheduler's queue) after its run was lost or withdrawn unstarted.
  void Requeue(int64_t id, const std::string& reason, double now);
  // Jobs submitted to a site unreachable for longer than its redispatch_after_s, not started:
  // withdrawn there and requeued, if their spec allows another site that could hold them.
  void RedispatchStranded(double now);
  const SiteConfig* SiteCfg(const std::string& name) const;
  void Finish(int64_t id, store::JobState to, const std::string& reason, double now, std::optional<int> exit_code);
  void ForgetLocal(int64_t id, store::JobState to, double now);  // in-memory cleanup of an ended job
  void Loop();
  bool QuotaAllows(const std::string& tenant, const JobSpec& spec) const;
  void UpdateGauges();

  ServiceConfig cfg_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalogue> cat_;
  std::unique_ptr<ThroughputMatrix> matrix_;
  std::unique_ptr<PerfModel> perf_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Scheduler> sched_;
  std::vector<std::unique_ptr<Site>> sites_;
  std::map<std::string, Site*> site_by_name_;
  std::vector<Site*> site_of_node_;                        // by NodeId
  std::map<std::pair<std::string, std::string>, NodeId> node_by_name_;  // (site, site's node name)
  std::vector<std::string> node_site_name_;                // by NodeId: the site's own node name
  std::map<int32_t, std::vector<bool>> devices_;           // local accelerator nodes: busy device ids
  std::map<std::string, std::string> device_env_;          // site -> CUDA_/ASCEND_RT_VISIBLE_DEVICES
  std::map<std::string, SiteInventory> last_inventory_;    // site -> what it reported last
  std::map<std::string, double> next_inventory_;           // site -> when to re-read it
  std::map<std::string, double> unhealthy_since_;          // site -> since when unreachable (0: healthy)
  AccelId cpu_type_;
  Site* SiteOfJob(const store::JobRow& row) const;
  // The cluster model: one group per site node, in the order nodes were first seen (so NodeIds
  // stay stable when it grows), and the site and site-local name of each.
  std::vector<Cluster::GroupSpec> groups_;
  std::vector<std::pair<Site*, std::string>> node_origin_;
  Status AddNodeGroup(const SiteConfig& sc, Site* site, const SiteNode& n);
  // (Re)builds cluster_ and sched_ from groups_, carrying the old scheduler's jobs and node states.
  Status BuildModel();
  void RefreshInventories(double now);
  Metrics metrics_;
  Rng rng_{0};

  // Lock order: core_mu_, then admit_mu_, then reason_mu_. Submit takes only admit_mu_, so a
  // submission never waits for a scheduling cycle (which launches processes under core_mu_).
  mutable std::mutex core_mu_;  // scheduler, active jobs, devices
  std::map<int64_t, std::unique_ptr<Active>> active_;
  std::map<std::string, std::deque<int64_t>> held_;  // over quota, waiting to enter the scheduler
  mutable std::mutex admit_mu_;  // tenants and their queued counts
  std::map<std::string, store::TenantRow> tenants_;
  std::map<std::string, int> queued_;  // tenant -> PENDING/SCHEDULED jobs (admission quota)
  mutable std::mutex reason_mu_;
  std::map<int64_t, std::string> reasons_;  // waiting jobs: the scheduler's latest word
  void AdjustQueued(const std::string& tenant, int by) {
    std::lock_guard<std::mutex> l(admit_mu_);
    queued_[tenant] += by;
  }

  std::mutex in_mu_;
  // Accepted jobs not yet taken in by the loop: their row as stored, and their parsed request.
  std::deque<std::pair<store::JobRow, std::shared_ptr<api::JobRequest>>> incoming_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::thread loop_;

  std::mutex tok_mu_;
  std::map<std::string, std::optional<store::TokenRow>> token_cache_;
};

}  // namespace cnet::service
