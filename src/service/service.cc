#include "service/service.h"

#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/csv.h"
#include "sched/policy_registry.h"
#include "sites/proc_scan.h"

namespace cnet::service {

using nlohmann::json;
using store::JobState;

struct Service::Active {
  std::string tenant;
  api::JobRequest req;
  JobSpec spec;
  JobState state = JobState::kPending;
  int attempts = 0;
  bool in_sched = false;        // admitted to the scheduler (else held by quota)
  bool cancel_requested = false;
  std::vector<int> devices;     // device ids in use
  std::string reason;           // the scheduler's latest word
};

namespace {

ApiError Err(int http, std::string m) { return ApiError{http, std::move(m)}; }

json PlacementJson(const std::string& site, const std::string& node, const std::string& accel,
                   const std::vector<std::vector<int>>& devices) {
  return json{{"site", site}, {"node", node}, {"accelerator", accel}, {"devices", devices}};
}

}  // namespace

Result<std::unique_ptr<Service>> Service::Create(ServiceConfig cfg, const Clock& clock,
                                                 const std::string& catalogue_path,
                                                 const std::string& throughputs_path) {
  std::unique_ptr<Service> s(new Service());
  s->cfg_ = std::move(cfg);
  s->clock_ = &clock;
  std::error_code ec;
  std::filesystem::create_directories(s->cfg_.data_dir, ec);
  if (ec) return Status(Code::kUnavailable, "--data: cannot create " + s->cfg_.data_dir + ": " + ec.message());
  CNET_ASSIGN_OR_RETURN(Catalogue cat, Catalogue::LoadYaml(catalogue_path));
  s->cat_ = std::make_unique<Catalogue>(std::move(cat));
  if (!throughputs_path.empty()) {
    CNET_ASSIGN_OR_RETURN(ThroughputMatrix m, ThroughputMatrix::LoadCsv(throughputs_path, *s->cat_));
    s->matrix_ = std::make_unique<ThroughputMatrix>(std::move(m));
  } else {
    // An empty matrix: every job runs at 1 step/s (steps = estimated seconds).
    CNET_ASSIGN_OR_RETURN(ThroughputMatrix m, ThroughputMatrix::ParseCsv(
        "job_type,accelerator,workers,steps_per_second\nnone,V100,1,1\n", "(none)", *s->cat_));
    s->matrix_ = std::make_unique<ThroughputMatrix>(std::move(m));
  }
  s->perf_ = std::make_unique<PerfModel>(*s->cat_, *s->matrix_);

  // The local site: this machine, as a GPU node (detected or declared) and a CPU node whose
  // packages are cores of the catalogue's CPU type for this architecture.
  const SiteConfig& sc = s->cfg_.sites.front();
  s->inventory_ = sites::DetectInventory();
  std::string accel = sc.accelerator.empty() ? s->inventory_.accelerator : sc.accelerator;
  int count = sc.accelerators >= 0 ? sc.accelerators : s->inventory_.accelerator_count;
  int cpus = sc.cpus > 0 ? sc.cpus : s->inventory_.cpus;
  double mem = sc.memory_gib > 0 ? sc.memory_gib : s->inventory_.memory_gib;
  std::vector<Cluster::GroupSpec> groups;
  if (!accel.empty() && count > 0) {
    auto id = s->cat_->Find(accel);
    if (!id || s->cat_->Get(*id).kind == AccelKind::kCpu)
      return InvalidArgument("sites[0].accelerator: unknown accelerator type '" + accel + "' (known: " +
                             s->cat_->NameList() + ")");
    s->gpu_type_ = *id;
    groups.push_back({sc.name, sc.region, "rack0", sc.power_cap_kw, "gpu", 1, *id, count, cpus, mem});
    s->device_busy_.assign(count, false);
    s->device_env_ = !sc.device_env.empty() ? sc.device_env
                     : s->cat_->Get(*id).kind == AccelKind::kNpu ? "ASCEND_RT_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES";
  }
#if defined(__aarch64__)
  s->cpu_type_ = *s->cat_->Find("arm-cpu");
#else
  s->cpu_type_ = *s->cat_->Find("x86-cpu");
#endif
  groups.push_back({sc.name, sc.region, "rack0", sc.power_cap_kw, "cpu", 1, s->cpu_type_, std::max(1, cpus), cpus, mem});
  CNET_ASSIGN_OR_RETURN(Cluster cl, Cluster::Build(sc.name, groups, *s->cat_));
  s->cluster_ = std::make_unique<Cluster>(std::move(cl));
  for (const Node& n : s->cluster_->nodes()) {
    if (n.accel == s->cpu_type_) s->cpu_node_ = n.id;
    else s->gpu_node_ = n.id;
  }

  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  CNET_ASSIGN_OR_RETURN(std::unique_ptr<Policy> pol, reg.Create(s->cfg_.policy));
  if (pol->time_sharing())
    return InvalidArgument("policy: '" + s->cfg_.policy + "' time-shares by preempting; the service runs the "
                           "non-preemptive policies fifo, fifo-hetero, backfill and cost-hetero");
  SchedulerOptions so;
  so.explain_waiting = true;
  s->sched_ = std::make_unique<Scheduler>(*s->cluster_, *s->perf_, std::move(pol), so);
  // Orphaned descendants (a worker's own children) are reparented to us and reaped by the site,
  // not left as zombies under an init that may not reap.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  s->local_ = std::make_unique<sites::LocalSite>(s->cfg_.data_dir);

  CNET_ASSIGN_OR_RETURN(s->store_, store::Store::Open(s->cfg_.data_dir + "/cnet.db"));
  for (const auto& t : s->cfg_.tenants) {
    store::TenantRow row{t.name, t.max_accelerators, t.max_queued_jobs};
    CNET_RETURN_IF_ERROR(s->store_->PutTenant(row));
  }
  CNET_ASSIGN_OR_RETURN(auto tenants, s->store_->ListTenants());
  for (auto& t : tenants) s->tenants_[t.name] = t;
  s->Recover();
  return s;
}

Service::~Service() { Stop(); }

void Service::Start() {
  if (loop_.joinable()) return;
  stop_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void Service::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

Result<std::string> Service::InitAdminToken() {
  CNET_ASSIGN_OR_RETURN(int64_t n, store_->CountAdminTokens());
  if (n > 0) return std::string();
  std::string tok = store::NewToken();
  store::TokenRow row{store::HashToken(tok), "", store::Role::kAdmin, clock_->Now(), "initial admin"};
  CNET_RETURN_IF_ERROR(store_->PutToken(row));
  return tok;
}

std::optional<Caller> Service::Authenticate(const std::string& bearer) {
  if (bearer.empty() || bearer.size() > 256) return std::nullopt;
  std::string h = store::HashToken(bearer);
  std::optional<store::TokenRow> row;
  {
    std::lock_guard<std::mutex> l(tok_mu_);
    auto it = token_cache_.find(h);
    if (it != token_cache_.end()) row = it->second;
    else {
      auto r = store_->FindToken(h);
      if (!r.ok()) return std::nullopt;
      row = *r;
      if (token_cache_.size() > 100000) token_cache_.clear();
      token_cache_[h] = row;
    }
  }
  if (!row) return std::nullopt;
  return Caller{row->tenant, row->role == store::Role::kAdmin};
}

// ---- admission -------------------------------------------------------------------------------

Result<JobSpec> Service::ToSpec(const store::JobRow& row, const api::JobRequest& req) const {
  JobSpec j;
  j.id = JobId(row.id);
  j.name = req.name;
  j.tenant = row.tenant;
  j.priority = req.priority;
  j.submit_time_s = row.submit_time;
  if (req.accelerators_per_worker > 0) {
    j.workers = req.workers * req.accelerators_per_worker;
    j.unit = req.accelerators_per_worker;
    if (req.accelerator_types.empty()) {
      for (AccelId a : cluster_->accel_types())
        if (cat_->Get(a).kind != AccelKind::kCpu) j.acceptable.push_back(a);
      if (j.acceptable.empty()) return InvalidArgument("accelerators_per_worker: no site has accelerators; ask for 0 (a CPU-only job)");
    }
    for (size_t i = 0; i < req.accelerator_types.size(); ++i) {
      auto a = cat_->Find(req.accelerator_types[i]);
      if (!a || cat_->Get(*a).kind == AccelKind::kCpu)
        return InvalidArgument("accelerator_types[" + std::to_string(i) + "]: unknown accelerator type '" +
                               req.accelerator_types[i] + "' (known: " + cat_->NameList() + ")");
      j.acceptable.push_back(*a);
    }
  } else {
    j.workers = req.workers * req.cpus_per_worker;
    j.unit = req.cpus_per_worker;
    j.acceptable = {cpu_type_};
  }
  for (size_t i = 0; i < req.sites.size(); ++i) {
    bool found = false;
    for (const Site& s : cluster_->sites())
      if (s.name == req.sites[i]) { j.allowed_sites.push_back(s.id); found = true; }
    if (!found) return InvalidArgument("sites[" + std::to_string(i) + "]: unknown site '" + req.sites[i] + "'");
  }
  if (!req.job_type.empty() && matrix_->FindJobType(req.job_type)) j.job_type = req.job_type;
  else if (!req.job_type.empty() && matrix_->num_job_types() > 1)
    return InvalidArgument("job_type: unknown job type '" + req.job_type + "' (not in the throughput matrix)");
  double est = req.estimated_duration_s > 0 ? req.estimated_duration_s : req.time_limit_s > 0 ? req.time_limit_s : 3600;
  j.total_steps = est;
  if (!j.job_type.empty()) {
    auto t = matrix_->FindJobType(j.job_type);
    double best = 0;
    for (AccelId a : j.acceptable) best = std::max(best, perf_->Throughput(*t, a, j.workers).steps_per_s);
    if (best > 0) j.total_steps = est * best;  // the estimate is on the fastest acceptable type
  }
  return j;
}

std::optional<ApiError> Service::CheckAdmission(const std::string& tenant, const api::JobRequest& req,
                                                JobSpec* spec) const {
  store::JobRow probe;
  probe.id = 0;
  probe.tenant = tenant;
  auto s = ToSpec(probe, req);
  if (!s.ok()) return Err(400, s.status().message());
  auto prep = sched_->Prepare(*s);  // reads only the immutable cluster model
  if (!prep.ok()) {
    std::string m = prep.status().message();
    size_t p = m.find(": ");
    return Err(422, "workers: " + (p == std::string::npos ? m : m.substr(p + 2)) + "; this job can never run here");
  }
  // Quota: a job larger than the tenant's limit could never start.
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) {
    for (const auto& [type, limit] : it->second.max_accelerators) {
      if (limit <= 0) continue;
      bool counts = type == "*" ? req.accelerators_per_worker > 0
                                : (s->acceptable.size() == 1 && cat_->Get(s->acceptable[0]).name == type);
      if (counts && req.TotalAccelerators() > limit)
        return Err(403, "accelerators_per_worker: the job needs " + std::to_string(req.TotalAccelerators()) + " " +
                        (type == "*" ? "accelerators" : type) + "; tenant " + tenant + "'s quota is " + std::to_string(limit));
    }
  }
  *spec = std::move(s).value();
  return std::nullopt;
}

bool Service::QuotaAllows(const std::string& tenant, const JobSpec& spec) const {
  std::map<std::string, int> limits;
  {
    std::lock_guard<std::mutex> l(admit_mu_);
    auto it = tenants_.find(tenant);
    if (it != tenants_.end()) limits = it->second.max_accelerators;
  }
  if (limits.empty() || spec.acceptable == std::vector<AccelId>{cpu_type_}) return true;
  std::map<std::string, int> in_use;
  int all = 0;
  for (const auto& [id, a] : active_) {
    if (a->tenant != tenant || !a->in_sched || a->spec.acceptable == std::vector<AccelId>{cpu_type_}) continue;
    // Running jobs count their placement; admitted pending ones their request (reserved).
    const JobRecord* r = sched_->Find(JobId(id));
    std::string type = r && r->phase == JobPhase::kRunning ? cat_->Get(r->placement.accel).name
                       : a->spec.acceptable.size() == 1 ? cat_->Get(a->spec.acceptable[0]).name : "";
    in_use[type] += a->spec.workers;
    all += a->spec.workers;
  }
  for (const auto& [type, limit] : limits) {
    if (limit <= 0) continue;
    if (type == "*" && all + spec.workers > limit) return false;
    if (type != "*" && spec.acceptable.size() == 1 && cat_->Get(spec.acceptable[0]).name == type &&
        in_use[type] + spec.workers > limit)
      return false;
  }
  return true;
}

ApiResult<Service::Submitted> Service::Submit(const Caller& c, const api::JobRequest& req,
                                              const std::string& idem) {
  if (c.admin) return Err(403, "tenant: admins do not submit jobs; use a tenant token");
  if (idem.size() > 128) return Err(400, "Idempotency-Key: longer than 128 characters");
  JobSpec spec;
  {
    std::lock_guard<std::mutex> l(admit_mu_);
    if (auto e = CheckAdmission(c.tenant, req, &spec)) return *e;
    auto it = tenants_.find(c.tenant);
    int limit = it == tenants_.end() ? 0 : it->second.max_queued_jobs;
    if (limit > 0 && queued_[c.tenant] >= limit && idem.empty())
      return Err(429, "tenant: " + c.tenant + " has " + std::to_string(queued_[c.tenant]) +
                      " jobs queued, its quota (max_queued_jobs) is " + std::to_string(limit));
    ++queued_[c.tenant];  // reserve
  }
  store::JobRow row;
  row.tenant = c.tenant;
  row.name = req.name;
  row.spec_json = api::ToJson(req).dump();
  row.submit_time = clock_->Now();
  row.idempotency_key = idem;
  auto ins = store_->InsertJob(std::move(row));
  if (!ins.ok() || !ins->created) AdjustQueued(c.tenant, -1);
  if (!ins.ok()) return Err(503, "store: " + ins.status().message());
  if (ins->created) {
    {
      std::lock_guard<std::mutex> l(in_mu_);
      incoming_.emplace_back(ins->job.id, std::make_shared<api::JobRequest>(req));
    }
    cv_.notify_one();
    metrics_.Inc("cnet_jobs_submitted_total", "");
  }
  return Submitted{ins->job, ins->created};
}

// ---- the loop ------------------------------------------------------------------------------

void Service::DrainIncoming(double now) {
  std::deque<std::pair<int64_t, std::shared_ptr<api::JobRequest>>> batch;
  {
    std::lock_guard<std::mutex> l(in_mu_);
    batch.swap(incoming_);
  }
  for (auto& [id, req] : batch) {
    auto a = std::make_unique<Active>();
    auto row = store_->GetJob(id);
    if (!row.ok()) continue;
    a->tenant = row->tenant;
    a->req = *req;
    a->attempts = row->attempts;
    a->state = row->state;
    auto spec = ToSpec(*row, *req);
    if (!spec.ok()) {
      Finish(id, JobState::kFailed, "not admissible after restart: " + spec.status().message(), now, std::nullopt);
      continue;
    }
    a->spec = std::move(spec).value();
    held_[a->tenant].push_back(id);
    active_[id] = std::move(a);
  }
  ReleaseHeld(now);
  (void)now;
}

void Service::ReleaseHeld(double now) {
  for (auto& [tenant, q] : held_) {
    while (!q.empty()) {
      auto it = active_.find(q.front());
      if (it == active_.end()) { q.pop_front(); continue; }
      Active& a = *it->second;
      if (!QuotaAllows(tenant, a.spec)) {
        a.reason = "waiting: tenant " + tenant + " is at its accelerator quota";
        break;
      }
      Status st = sched_->Admit(a.spec);
      q.pop_front();
      if (!st.ok()) {
        Finish(it->first, JobState::kFailed, "not admissible: " + st.message(), now, std::nullopt);
        continue;
      }
      a.in_sched = true;
      a.reason = "queued";
    }
  }
}

void Service::Finish(int64_t id, JobState to, const std::string& reason, double now, std::optional<int> exit_code) {
  store::Store::Update u;
  u.end_time = now;
  u.exit_code = exit_code;
  (void)store_->Transition(id, to, reason, now, u);
  ForgetLocal(id, to, now);
}

void Service::ForgetLocal(int64_t id, JobState to, double now) {
  auto it = active_.find(id);
  if (it != active_.end()) {
    Active& a = *it->second;
    if (a.state == JobState::kPending || a.state == JobState::kScheduled || a.state == JobState::kPreempted)
      AdjustQueued(a.tenant, -1);
    {
      std::lock_guard<std::mutex> rl(reason_mu_);
      reasons_.erase(id);
    }
    for (int d : a.devices) device_busy_[d] = false;
    if (a.in_sched) (void)sched_->Remove(JobId(id), now);
    active_.erase(it);
  }
  metrics_.Inc("cnet_jobs_finished_total", std::string("state=\"") + store::StateName(to) + "\"");
}

void Service::HandleExits(double now) {
  std::vector<store::Store::TransitionOp> ops;
  for (const sites::ExitInfo& e : local_->Poll(now)) {
    auto it = active_.find(e.job_id);
    if (it == active_.end()) continue;
    store::Store::TransitionOp op;
    op.id = e.job_id;
    op.time = now;
    op.update.end_time = now;
    op.update.exit_code = e.exit_code;
    if (it->second->cancel_requested) {
      op.to = JobState::kCancelled;
      op.reason = "cancelled: " + e.reason;
    } else if (e.success) {
      op.to = JobState::kSucceeded;
      op.reason = "exit code 0";
    } else {
      op.to = JobState::kFailed;
      op.reason = e.reason;
    }
    ops.push_back(std::move(op));
  }
  (void)store_->TransitionMany(ops);  // one commit for every exit of this cycle
  for (const auto& op : ops) ForgetLocal(op.id, op.to, now);
}

void Service::DispatchAll(const std::vector<Decision>& places, double now) {
  // Phase 1: devices and a durable SCHEDULED for every placement (one commit), so that a crash
  // after a launch never leaves a job that looks unstarted.
  struct Prep {
    int64_t id;
    Active* a;
    std::vector<std::vector<int>> per_worker;
    std::string node;
  };
  std::vector<Prep> preps;
  std::vector<store::Store::TransitionOp> ops;
  for (const Decision& d : places) {
    int64_t id = d.job.value();
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    Active& a = *it->second;
    Prep p{id, &a, {}, ""};
    if (d.placement.accel != cpu_type_) {
      std::vector<int> got;
      for (size_t k = 0; k < device_busy_.size() && static_cast<int>(got.size()) < a.spec.workers; ++k)
        if (!device_busy_[k]) got.push_back(static_cast<int>(k));
      for (int k : got) device_busy_[k] = true;
      a.devices = got;
      for (int w = 0; w < a.req.workers; ++w)
        p.per_worker.emplace_back(got.begin() + w * a.spec.unit, got.begin() + (w + 1) * a.spec.unit);
    }
    const Node& node = cluster_->node(d.placement.slots.front().node);
    p.node = node.name;
    store::Store::TransitionOp op;
    op.id = id;
    op.to = JobState::kScheduled;
    op.reason = d.reason;
    op.time = now;
    op.update.expected_from = a.state == JobState::kPreempted ? JobState::kPreempted : JobState::kPending;
    op.update.site = cluster_->site(node.site).name;
    op.update.placement_json =
        PlacementJson(cluster_->site(node.site).name, node.name, cat_->Get(d.placement.accel).name, p.per_worker).dump();
    op.update.increment_attempts = true;
    ops.push_back(std::move(op));
    preps.push_back(std::move(p));
  }
  std::vector<Status> st = store_->TransitionMany(ops);
  // Phase 2: launch; record RUNNING (one commit) and failures (one commit).
  std::vector<store::Store::TransitionOp> running, failed;
  std::vector<Active*> started;
  for (size_t i = 0; i < preps.size(); ++i) {
    Prep& p = preps[i];
    Active& a = *p.a;
    if (!st[i].ok()) {  // cancelled meanwhile, or the store failed: undo
      for (int k : a.devices) device_busy_[k] = false;
      a.devices.clear();
      (void)sched_->Remove(JobId(p.id), now);
      a.in_sched = false;
      continue;
    }
    a.state = JobState::kScheduled;
    ++a.attempts;
    sites::LaunchSpec ls;
    ls.job_id = p.id;
    ls.attempt = a.attempts;
    ls.argv = a.req.command;
    ls.env = a.req.env;
    ls.working_dir = a.req.working_dir;
    ls.workers = a.req.workers;
    ls.devices = p.per_worker;
    ls.device_env = device_env_.empty() ? "CUDA_VISIBLE_DEVICES" : device_env_;
    ls.time_limit_s = a.req.time_limit_s;
    auto h = local_->Launch(ls);
    store::Store::TransitionOp op;
    op.id = p.id;
    op.time = now;
    op.update.expected_from = JobState::kScheduled;
    if (!h.ok()) {
      op.to = JobState::kFailed;
      op.reason = "launch failed: " + h.status().message();
      op.update.end_time = now;
      failed.push_back(std::move(op));
      continue;
    }
    op.to = JobState::kRunning;
    op.reason = "started " + std::to_string(a.req.workers) + " process(es) on " + p.node;
    op.update.start_time = now;
    op.update.runtime_json = h->ToJson();
    running.push_back(std::move(op));
    started.push_back(&a);
  }
  (void)store_->TransitionMany(running);
  for (Active* a : started) {
    a->state = JobState::kRunning;
    AdjustQueued(a->tenant, -1);
  }
  (void)store_->TransitionMany(failed);
  for (const auto& op : failed) ForgetLocal(op.id, op.to, now);
}

void Service::Tick() {
  double t0 = MonotonicSeconds();
  std::lock_guard<std::mutex> l(core_mu_);
  double now = clock_->Now();
  DrainIncoming(now);
  HandleExits(now);
  ReleaseHeld(now);
  CycleResult cr = sched_->RunCycle(now, true, rng_);
  std::vector<Decision> places;
  for (Decision& d : cr.applied)
    if (d.action == Action::kPlace) places.push_back(std::move(d));
  DispatchAll(places, now);
  // Waiting reasons come back as kKeep decisions; they are not in `applied`.
  // (The scheduler records them on its job records.)
  {
    std::lock_guard<std::mutex> rl(reason_mu_);
    for (JobId id : sched_->pending()) reasons_[id.value()] = sched_->Find(id)->reason;
    for (const auto& [tenant, q] : held_)
      for (int64_t id : q)
        if (auto it = active_.find(id); it != active_.end()) reasons_[id] = it->second->reason;
  }
  UpdateGauges();
  metrics_.ObserveCycle(MonotonicSeconds() - t0);
}

void Service::Loop() {
  while (!stop_) {
    Tick();
    std::unique_lock<std::mutex> l(in_mu_);
    cv_.wait_for(l, std::chrono::duration<double>(cfg_.cycle_interval_s), [this] { return stop_.load(); });
  }
}

void Service::UpdateGauges() {
  metrics_.SetGauge("cnet_queue_length", "", static_cast<double>(sched_->pending().size()));
  size_t held = 0;
  for (auto& [t, q] : held_) held += q.size();
  metrics_.SetGauge("cnet_jobs_held_by_quota", "", static_cast<double>(held));
  std::map<std::string, int> alloc;
  for (JobId id : sched_->running()) alloc[cat_->Get(sched_->Find(id)->placement.accel).name] += sched_->Find(id)->placement.Workers();
  for (AccelId a : cluster_->accel_types()) {
    std::string n = cat_->Get(a).name;
    metrics_.SetGauge("cnet_allocated_accelerators", "type=\"" + n + "\"", alloc[n]);
    metrics_.SetGauge("cnet_capacity_accelerators", "type=\"" + n + "\"", cluster_->AccelCount(a));
  }
  std::map<std::string, int> by_state;
  for (auto& [id, a] : active_) ++by_state[store::StateName(a->state)];
  for (const char* s : {"PENDING", "SCHEDULED", "RUNNING", "PREEMPTED"})
    metrics_.SetGauge("cnet_jobs", std::string("state=\"") + s + "\"", by_state[s]);
}

// ---- recovery ------------------------------------------------------------------------------

void Service::Recover() {
  auto rows = store_->ActiveJobs();
  if (!rows.ok()) return;
  double now = clock_->Now();
  std::lock_guard<std::mutex> l(core_mu_);
  for (const auto& row : *rows) {
    auto req = api::JobRequestFromJson(json::parse(row.spec_json, nullptr, false), cfg_.limits);
    if (!req.ok()) {
      (void)store_->Transition(row.id, JobState::kFailed, "spec no longer valid: " + req.status().message(), now, {});
      continue;
    }
    if (row.state == JobState::kPending || row.state == JobState::kPreempted) {
      AdjustQueued(row.tenant, 1);
      incoming_.emplace_back(row.id, std::make_shared<api::JobRequest>(*req));
      continue;
    }
    // SCHEDULED or RUNNING: find its processes.
    std::optional<sites::RunHandle> handle;
    if (!row.runtime_json.empty()) {
      auto h = sites::RunHandle::FromJson(row.runtime_json);
      if (h.ok()) handle = *h;
    } else {
      // Dispatch was interrupted between SCHEDULED and RUNNING: look for processes by env.
      auto procs = sites::FindJobProcesses(row.id);
      if (!procs.empty()) {
        sites::RunHandle h;
        h.job_id = row.id;
        h.attempt = row.attempts;
        h.pgid = procs.front().pgid;
        h.started_at = now;
        h.time_limit_s = req->time_limit_s;
        h.run_dir = cfg_.data_dir + "/runs/" + std::to_string(row.id) + "/" + std::to_string(row.attempts);
        std::vector<sites::FoundProcess> shims;
        for (const auto& p : procs)
          if (p.pgid == h.pgid && std::none_of(procs.begin(), procs.end(), [&](const auto& q) { return q.pid == p.ppid; }))
            shims.push_back(p);
        std::sort(shims.begin(), shims.end(), [](const auto& x, const auto& y) { return x.worker_index < y.worker_index; });
        for (const auto& p : shims) {
          h.pids.push_back(p.pid);
          h.start_ticks.push_back(p.start_ticks);
        }
        handle = h;
      }
    }
    bool adopted = handle && local_->Adopt(*handle);
    if (adopted) {
      auto a = std::make_unique<Active>();
      a->tenant = row.tenant;
      a->req = *req;
      a->attempts = row.attempts;
      a->state = JobState::kRunning;
      auto spec = ToSpec(row, *req);
      if (!spec.ok()) continue;
      a->spec = *spec;
      // Re-take its accelerators in the scheduler and its devices.
      Placement p;
      json pj = json::parse(row.placement_json.empty() ? "{}" : row.placement_json, nullptr, false);
      bool on_gpu = pj.is_object() && pj.value("node", "").find("/gpu") != std::string::npos;
      p.accel = on_gpu ? gpu_type_ : cpu_type_;
      p.slots = {Slot{on_gpu ? gpu_node_ : cpu_node_, a->spec.workers}};
      if (on_gpu && pj.contains("devices"))
        for (const auto& w : pj["devices"])
          for (const auto& d : w) {
            int k = d.get<int>();
            if (k >= 0 && k < static_cast<int>(device_busy_.size())) { device_busy_[k] = true; a->devices.push_back(k); }
          }
      Status st = sched_->AdoptRunning(a->spec, p, row.start_time > 0 ? row.start_time : now, now);
      a->in_sched = st.ok();
      if (row.state == JobState::kScheduled) {
        store::Store::Update u;
        u.expected_from = JobState::kScheduled;
        u.start_time = now;
        u.runtime_json = handle->ToJson();
        (void)store_->Transition(row.id, JobState::kRunning, "re-adopted after a restart (dispatch was interrupted)", now, u);
      } else {
        (void)store_->SetReason(row.id, "re-adopted after a restart");
      }
      active_[row.id] = std::move(a);
      continue;
    }
    // Gone without a trace: it did not run to completion under our watch.
    if (row.attempts <= req->max_retries && row.state == JobState::kRunning) {
      (void)store_->Transition(row.id, JobState::kPending, "requeued: its processes were gone after a restart", now, {});
      AdjustQueued(row.tenant, 1);
      incoming_.emplace_back(row.id, std::make_shared<api::JobRequest>(*req));
    } else if (row.state == JobState::kScheduled) {
      // Never started (no process, no handle): safe to dispatch again.
      store::Store::Update u;
      u.expected_from = JobState::kScheduled;
      (void)store_->Transition(row.id, JobState::kPending, "requeued: the service stopped before it started", now, u);
      AdjustQueued(row.tenant, 1);
      incoming_.emplace_back(row.id, std::make_shared<api::JobRequest>(*req));
    } else {
      store::Store::Update u;
      u.end_time = now;
      (void)store_->Transition(row.id, JobState::kFailed, "lost: its processes ended while the service was down and left no exit status", now, u);
    }
  }
}

// ---- queries -------------------------------------------------------------------------------

json Service::JobJson(const store::JobRow& r, bool with_events) {
  json j{{"id", r.id},
         {"name", r.name},
         {"tenant", r.tenant},
         {"state", store::StateName(r.state)},
         {"reason", r.reason},
         {"submit_time", r.submit_time},
         {"start_time", r.start_time > 0 ? json(r.start_time) : json(nullptr)},
         {"end_time", r.end_time > 0 ? json(r.end_time) : json(nullptr)},
         {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
         {"site", r.site.empty() ? json(nullptr) : json(r.site)},
         {"placement", r.placement_json.empty() ? json(nullptr) : json::parse(r.placement_json, nullptr, false)},
         {"attempts", r.attempts},
         {"spec", json::parse(r.spec_json, nullptr, false)}};
  if (r.state == JobState::kPending) {
    std::lock_guard<std::mutex> l(reason_mu_);
    auto it = reasons_.find(r.id);
    if (it != reasons_.end() && !it->second.empty()) j["reason"] = it->second;
  }
  if (with_events) {
    json ev = json::array();
    auto es = store_->Events(r.id);
    if (es.ok())
      for (const auto& e : *es)
        ev.push_back({{"time", e.time}, {"from", e.from_state.empty() ? json(nullptr) : json(e.from_state)}, {"to", e.to_state}, {"reason", e.reason}});
    j["events"] = ev;
  }
  return j;
}

ApiResult<json> Service::GetJob(const Caller& c, int64_t id) {
  auto r = store_->GetJob(id);
  if (!r.ok()) return Err(404, "job " + std::to_string(id) + " not found");
  if (!c.admin && r->tenant != c.tenant) return Err(403, "job " + std::to_string(id) + " belongs to another tenant");
  return JobJson(*r, true);
}

ApiResult<json> Service::ListJobs(const Caller& c, const store::JobFilter& f0) {
  store::JobFilter f = f0;
  if (!c.admin) {
    if (f.tenant && *f.tenant != c.tenant) return Err(403, "tenant: you may list only your own jobs");
    f.tenant = c.tenant;
  }
  auto rows = store_->ListJobs(f);
  if (!rows.ok()) return Err(rows.status().code() == Code::kInvalidArgument ? 400 : 503, rows.status().message());
  json out{{"jobs", json::array()}};
  for (const auto& r : *rows) out["jobs"].push_back(JobJson(r, false));
  out["next_after"] = rows->size() == static_cast<size_t>(f.limit) && !rows->empty() ? json(rows->back().id) : json(nullptr);
  return out;
}

ApiResult<json> Service::Cancel(const Caller& c, int64_t id) {
  auto r = store_->GetJob(id);
  if (!r.ok()) return Err(404, "job " + std::to_string(id) + " not found");
  if (!c.admin && r->tenant != c.tenant) return Err(403, "job " + std::to_string(id) + " belongs to another tenant");
  if (store::IsTerminal(r->state)) return Err(409, "job " + std::to_string(id) + " is already " + store::StateName(r->state));
  std::lock_guard<std::mutex> l(core_mu_);
  double now = clock_->Now();
  DrainIncoming(now);
  auto it = active_.find(id);
  if (it == active_.end()) return Err(409, "job " + std::to_string(id) + " is ending");
  Active& a = *it->second;
  if (a.state == JobState::kRunning) {
    a.cancel_requested = true;
    Status st = local_->Kill(id, "cancelled by " + (c.admin ? std::string("an admin") : c.tenant));
    if (!st.ok()) return Err(500, st.message());
    return json{{"id", id}, {"state", "RUNNING"}, {"message", "cancelling: its processes are being stopped"}};
  }
  Finish(id, JobState::kCancelled, "cancelled by " + (c.admin ? std::string("an admin") : c.tenant) + " before it started", now, std::nullopt);
  return json{{"id", id}, {"state", "CANCELLED"}};
}

bool Service::IsTerminal(int64_t id) {
  auto r = store_->GetJob(id);
  return !r.ok() || store::IsTerminal(r->state);
}

ApiResult<std::pair<std::string, bool>> Service::LogPath(const Caller& c, int64_t id, const std::string& stream, int attempt) {
  auto r = store_->GetJob(id);
  if (!r.ok()) return Err(404, "job " + std::to_string(id) + " not found");
  if (!c.admin && r->tenant != c.tenant) return Err(403, "job " + std::to_string(id) + " belongs to another tenant");
  if (stream != "stdout" && stream != "stderr") return Err(400, "stream: must be stdout or stderr");
  int att = attempt > 0 ? attempt : std::max(1, r->attempts);
  if (att > std::max(1, r->attempts)) return Err(400, "attempt: the job has had " + std::to_string(r->attempts) + " attempt(s)");
  std::string path = stream == "stdout" ? local_->StdoutPath(id, att) : local_->StderrPath(id, att);
  return std::make_pair(path, store::IsTerminal(r->state));
}

json Service::Sites() {
  std::lock_guard<std::mutex> l(core_mu_);
  json sites = json::array();
  for (const Site& s : cluster_->sites()) {
    json nodes = json::array();
    json free_by_type = json::object(), total_by_type = json::object();
    for (const Node& n : cluster_->nodes()) {
      if (n.site != s.id) continue;
      std::string type = cat_->Get(n.accel).name;
      bool cpu = n.accel == cpu_type_;
      int free = sched_->capacity().Free(n.id);
      nodes.push_back({{"name", n.name}, {"kind", cpu ? "cpu" : "accelerator"}, {"type", type},
                       {"count", n.accel_count}, {"free", free}, {"cpus", n.cpus}, {"memory_gib", n.memory_gib}});
      free_by_type[type] = free_by_type.value(type, 0) + free;
      total_by_type[type] = total_by_type.value(type, 0) + n.accel_count;
    }
    sites.push_back({{"name", s.name}, {"type", "local"}, {"region", s.region}, {"healthy", true},
                     {"nodes", nodes}, {"capacity", total_by_type}, {"free", free_by_type},
                     {"detected_devices", inventory_.device_names}});
  }
  return json{{"sites", sites}};
}

ApiResult<json> Service::Usage(const Caller& c, const std::string& tenant0) {
  std::string tenant = tenant0.empty() ? c.tenant : tenant0;
  if (!c.admin && tenant != c.tenant) return Err(403, "tenant: you may read only your own usage");
  if (tenant.empty()) return Err(400, "tenant: name a tenant (admins have no usage of their own)");
  std::lock_guard<std::mutex> l(core_mu_);
  json in_use = json::object();
  int running = 0, pending = 0, held = 0;
  for (const auto& [id, a] : active_) {
    if (a->tenant != tenant) continue;
    const JobRecord* r = a->in_sched ? sched_->Find(JobId(id)) : nullptr;
    if (r && r->phase == JobPhase::kRunning) {
      ++running;
      std::string type = cat_->Get(r->placement.accel).name;
      in_use[type] = in_use.value(type, 0) + r->placement.Workers();
    } else if (a->in_sched) {
      ++pending;
    } else {
      ++held;
    }
  }
  json quota = json::object();
  std::lock_guard<std::mutex> al(admit_mu_);
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) quota = {{"max_accelerators", it->second.max_accelerators}, {"max_queued_jobs", it->second.max_queued_jobs}};
  return json{{"tenant", tenant}, {"running_jobs", running}, {"pending_jobs", pending}, {"held_by_quota", held},
              {"queued_jobs", queued_[tenant]}, {"in_use", in_use}, {"quota", quota}};
}

ApiResult<json> Service::PutTenant(const Caller& c, const json& b) {
  if (!c.admin) return Err(403, "admin role required");
  if (!b.is_object() || !b.contains("name") || !b["name"].is_string()) return Err(400, "name: required string");
  store::TenantRow t;
  t.name = b["name"].get<std::string>();
  if (t.name.empty() || t.name.size() > 63 || t.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos)
    return Err(400, "name: 1-63 letters, digits, '-', '_' or '.'");
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "name" && it.key() != "max_accelerators" && it.key() != "max_queued_jobs")
      return Err(400, it.key() + ": unknown field");
  if (b.contains("max_queued_jobs")) {
    if (!b["max_queued_jobs"].is_number_integer() || b["max_queued_jobs"].get<int64_t>() < 0 || b["max_queued_jobs"].get<int64_t>() > 10000000)
      return Err(400, "max_queued_jobs: an integer from 0 to 10000000");
    t.max_queued_jobs = b["max_queued_jobs"].get<int>();
  }
  if (b.contains("max_accelerators")) {
    if (!b["max_accelerators"].is_object()) return Err(400, "max_accelerators: a mapping of type to count");
    for (auto it = b["max_accelerators"].begin(); it != b["max_accelerators"].end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > 1000000)
        return Err(400, "max_accelerators." + it.key() + ": an integer from 0 to 1000000");
      if (it.key() != "*" && !cat_->Find(it.key())) return Err(400, "max_accelerators." + it.key() + ": unknown accelerator type");
      t.max_accelerators[it.key()] = it.value().get<int>();
    }
  }
  Status st = store_->PutTenant(t);
  if (!st.ok()) return Err(503, st.message());
  std::lock_guard<std::mutex> l(admit_mu_);
  tenants_[t.name] = t;
  return json{{"name", t.name}, {"max_accelerators", t.max_accelerators}, {"max_queued_jobs", t.max_queued_jobs}};
}

ApiResult<json> Service::CreateToken(const Caller& c, const json& b) {
  if (!c.admin) return Err(403, "admin role required");
  if (!b.is_object()) return Err(400, "body: expected a mapping");
  std::string role = b.value("role", "tenant");
  if (role != "tenant" && role != "admin") return Err(400, "role: tenant or admin");
  std::string tenant = b.contains("tenant") && b["tenant"].is_string() ? b["tenant"].get<std::string>() : "";
  if (role == "tenant") {
    std::lock_guard<std::mutex> l(admit_mu_);
    if (tenant.empty()) return Err(400, "tenant: required for a tenant token");
    if (!tenants_.count(tenant)) return Err(404, "tenant: no tenant '" + tenant + "' (create it with PUT /v1/tenants)");
  }
  std::string tok = store::NewToken();
  store::TokenRow row{store::HashToken(tok), role == "admin" ? "" : tenant,
                      role == "admin" ? store::Role::kAdmin : store::Role::kTenant, clock_->Now(), b.value("label", "")};
  Status st = store_->PutToken(row);
  if (!st.ok()) return Err(503, st.message());
  return json{{"token", tok}, {"tenant", row.tenant}, {"role", role}, {"note", "shown once; only its hash is stored"}};
}

}  // namespace cnet::service
