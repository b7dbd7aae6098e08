// The dispatch service's composition root and its use cases, for the API layer: accepts jobs
// durably (the store commits before anything is acknowledged), hands them to the control loop
// (control_loop.h), answers reads from the store and the loop's published read model, and
// administers tenants and tokens. Knows nothing of HTTP: every failure is a Status whose code the
// API maps to a response (api/error_mapping.h).
// Thread-safe: every public method may be called from any thread once Create returned.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "api/job_request.h"
#include "backends/registry.h"
#include "common/clock.h"
#include "model/accelerator.h"
#include "perf/perf_model.h"
#include "sched/policy_registry.h"
#include "service/acct.h"
#include "service/admission.h"
#include "service/authenticator.h"
#include "service/config.h"
#include "service/control_loop.h"
#include "service/datasets.h"
#include "service/explain.h"
#include "service/loop_state.h"
#include "service/metrics.h"
#include "service/tenant_ledger.h"
#include "store/health_store.h"
#include "store/store.h"

namespace cnet::service {

// What the service is built from besides its config; each may be left empty for the default.
struct ServiceDeps {
  const Clock* clock = nullptr;                     // default: the system clock
  std::shared_ptr<spdlog::logger> log;              // default: logs nothing
  const backends::BackendRegistry* backends = nullptr;  // default: the built-in backends
  const PolicyRegistry* policies = nullptr;         // default: the built-in policies
  bool inline_launches = false;  // tests: launches run inside Tick, on the caller's thread
  // Tests: wraps the opened store (fault injection).
  std::function<std::unique_ptr<store::Store>(std::unique_ptr<store::Store>)> wrap_store;
};

struct JobView {
  store::JobRow row;
  std::string live_reason;  // the scheduler's or site's latest word, for waiting jobs ("" = row.reason)
  std::vector<store::EventRow> events;
  double estimated_start = -1;  // a waiting job's expected start (epoch s) by a reservation; < 0 unknown
};

struct LogLocation {
  std::string path;
  bool terminal = false;
};

class Service {
 public:
  // Opens the store under cfg.data_dir, builds the sites from the registry and the cluster model
  // from their inventories, and recovers jobs left by a previous run. Does not start the loop.
  static Result<std::unique_ptr<Service>> Create(ServiceConfig cfg, ServiceDeps deps, const std::string& catalogue_path,
                                                 const std::string& throughputs_path);
  ~Service();

  void Start();  // starts the control loop's thread
  void Stop();   // finishes the tick in flight; running jobs keep running (a restart re-adopts them)

  // Creates an admin token if none exists; returns it (shown once), or "" if one existed.
  Result<std::string> InitAdminToken();
  // Token -> caller. kUnauthenticated if unknown; kUnavailable if the store cannot answer.
  Result<Caller> Authenticate(const std::string& bearer);

  struct Submitted {
    store::JobRow job;    // an array: its first task (job.id is the array's id)
    bool created = true;  // false: an Idempotency-Key replay of an earlier submit
    int tasks = 1;        // an array's task count (1 for a plain job)
  };
  // A job array (req.array) becomes one row per task, all committed at once; each task counts as
  // one queued job against max_queued_jobs. Dependencies must name jobs of the caller's tenant
  // (else kInfeasible, field 'dependency'); an array beyond limits.max_array_size is kInfeasible.
  Result<Submitted> Submit(const Caller& c, const api::JobRequest& req, const std::string& idempotency_key);
  Result<JobView> GetJob(const Caller& c, int64_t id, bool with_events);
  Result<std::vector<JobView>> ListJobs(const Caller& c, store::JobFilter f);
  // An array's id cancels, holds, releases or requeues every task of it (whole_array = false: only
  // the task with that id); tasks the action does not apply to are skipped and counted.
  Result<CancelOutcome> Cancel(const Caller& c, int64_t id, bool whole_array = true);
  struct ActOutcome {
    store::JobState state = store::JobState::kPending;  // the (first) job's state after the action
    int done = 0;                                        // jobs acted on
    std::vector<std::string> skipped;                    // array tasks left as they were, and why
  };
  Result<ActOutcome> Act(const Caller& c, UserAction what, int64_t id, bool whole_array = true);
  Result<LogLocation> Logs(const Caller& c, int64_t id, const std::string& stream, int attempt);
  Result<bool> IsTerminal(int64_t id);
  // `cnet explain`: every candidate (site, type) for job `id` with its estimates or rejection, and
  // the objective's pick (docs/dispatch.md). The owner or an admin. service_explain.cc.
  Result<ExplainView> Explain(const Caller& c, int64_t id);
  // `cnet submit --dry-run`: the same for a request, checked as a submit would be; nothing is
  // stored or queued.
  Result<ExplainView> DryRun(const Caller& c, const api::JobRequest& req);
  // Accounting rows of the jobs that overlap [since, until] (submitted before until, not ended
  // before since), oldest first; tenants see their own, admins all or `tenant`. At most
  // kMaxAcctRows; *truncated says when more matched. service_acct.cc.
  struct AcctQuery {
    std::optional<std::string> tenant;
    std::optional<store::JobState> state;
    double since = 0, until = 0;  // epoch seconds; until 0 = now
  };
  static constexpr size_t kMaxAcctRows = 100000;
  Result<std::vector<AcctRow>> Acct(const Caller& c, AcctQuery q, bool* truncated);
  std::shared_ptr<const ReadModel> Read() const { return loop_->Read(); }
  struct UsageView {
    std::string tenant;
    TenantUsage usage;
    std::optional<store::TenantRow> quota;
  };
  Result<UsageView> Usage(const Caller& c, const std::string& tenant);
  Result<store::TenantRow> PutTenant(const Caller& c, const store::TenantRow& t);
  struct NewToken {
    std::string token;  // shown once; only its hash is stored
    store::TokenRow row;
  };
  // ttl_s: seconds until the token expires (0 = never; at most kMaxTokenTtlS). Audited in the log.
  static constexpr double kMaxTokenTtlS = 3650.0 * 86400;
  Result<NewToken> CreateToken(const Caller& c, store::Role role, const std::string& tenant, const std::string& label,
                               double ttl_s = 0);
  // Admins: every token, oldest first, last use including uses not yet written.
  Result<std::vector<store::TokenRow>> ListTokens(const Caller& c);
  // Admins: revokes token `id` ("tok_" + 16 hex digits); refused for the last usable admin token.
  // Effective for the next request on every thread. Audited in the log.
  Result<store::TokenRow> RevokeToken(const Caller& c, const std::string& id);

  // Site power budgets (docs/energy.md): each site's cap, windows, override and the budget in
  // force now. Admins only. service_power.cc.
  Result<std::vector<PowerBudgets::SiteView>> PowerBudgetView(const Caller& c);
  // Admins: sets (kw) or clears (nullopt) a site's budget override, effective at the next tick;
  // running work is never stopped. Audited in the log.
  Result<PowerBudgets::SiteView> SetPowerBudget(const Caller& c, const std::string& site, std::optional<double> kw,
                                                const std::string& reason);

  // Whether writes commit (the store's record of its last write). While they do not, each call
  // probes the store with a small write at most once a second, so the answer turns healthy by
  // itself when space returns. reason: the last storage fault, "" when healthy.
  struct HealthView {
    bool writable = true;
    std::string reason;
  };
  HealthView Health();

  Metrics& metrics() { return metrics_; }
  Datasets& datasets() { return *datasets_; }  // datasets, grants, audit (docs/data.md)
  const ServiceConfig& config() const { return cfg_; }
  const Catalogue& catalogue() const { return *cat_; }
  // Tests: drive the loop (Tick) and look inside.
  ControlLoop& loop() { return *loop_; }
  LoopState& state() { return *st_; }
  Authenticator& authenticator() { return *auth_; }

 private:
  Service() = default;
  Status BuildSites(const backends::BackendRegistry& reg);
  Status LoadTenants();
  Status LoadPowerOverrides();  // admins' overrides from the store (service_power.cc)
  Result<store::TenantRow> Canonical(store::TenantRow t) const;
  Result<std::string> UnixUserFor(const store::TenantRow& t) const;
  Result<store::JobRow> OwnedJob(const Caller& c, int64_t id);
  Status CheckDependencies(const Caller& c, const api::JobRequest& req);
  // The job, or an array's non-ended tasks when `row` is an array's first task and whole_array.
  Result<std::vector<int64_t>> Targets(const store::JobRow& row, bool whole_array);
  std::string LiveReason(const store::JobRow& row) const;
  // What Explain reads besides the job; `m` must outlive the result (it points into it).
  ExplainInputs ExplainBase(const ModelSnapshot& m, const std::string& tenant) const;
  double EstimatedStart(const store::JobRow& row) const;  // < 0: none

  ServiceConfig cfg_;
  ServiceDeps deps_;
  std::unique_ptr<SystemClock> own_clock_;
  std::unique_ptr<backends::BackendRegistry> own_backends_;
  std::unique_ptr<PolicyRegistry> own_policies_;
  std::unique_ptr<store::Store> store_;
  store::HealthStore* health_ = nullptr;  // the outermost layer of store_
  std::mutex probe_mu_;
  double last_probe_ = -1e18;             // MonotonicSeconds of the last write probe
  std::unique_ptr<Catalogue> cat_;
  std::unique_ptr<ThroughputMatrix> matrix_;
  std::unique_ptr<PerfModel> perf_;
  std::unique_ptr<Admission> admission_;
  std::unique_ptr<Datasets> datasets_;
  TenantLedger ledger_;
  Metrics metrics_;
  std::unique_ptr<LoopState> st_;
  std::unique_ptr<ControlLoop> loop_;
  std::unique_ptr<Authenticator> auth_;
};

}  // namespace cnet::service
