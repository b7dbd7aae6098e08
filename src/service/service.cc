#include "service/service.h"

#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "common/csv.h"
#include "sched/policy_registry.h"
#include "service/local_adapter.h"
#include "service/slurm_site.h"

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
  Site* site = nullptr;         // where it was dispatched
  int32_t device_node = -1;     // local accelerator node whose devices it holds
  std::vector<int> devices;     // device ids in use there
  std::string reason;           // the scheduler's latest word
};

namespace {

ApiError Err(int http, std::string m) { return ApiError{http, std::move(m)}; }

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
#if defined(__aarch64__)
  s->cpu_type_ = *s->cat_->Find("arm-cpu");
#else
  s->cpu_type_ = *s->cat_->Find("x86-cpu");
#endif
  // Orphaned descendants (a worker's own children) are reparented to us and reaped by the local
  // site, not left as zombies under an init that may not reap.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  // Sites, and the cluster model built from what they report: one scheduler node per site node;
  // a node's CPU cores are packages of the catalogue's CPU type when it has no accelerators.
  for (size_t i = 0; i < s->cfg_.sites.size(); ++i) {
    const SiteConfig& sc = s->cfg_.sites[i];
    std::unique_ptr<Site> site;
    if (sc.type == "local") {
      site = std::make_unique<LocalAdapter>(sc, s->cfg_.data_dir);
    } else {
      CNET_ASSIGN_OR_RETURN(site, MakeSlurmSite(sc, s->cfg_.data_dir));
    }
    SiteInventory inv = site->Inventory();
    for (const SiteNode& n : inv.nodes) {
      Status st = s->AddNodeGroup(sc, site.get(), n);
      if (!st.ok()) return InvalidArgument("sites[" + std::to_string(i) + "]: " + st.message());
    }
    s->last_inventory_[sc.name] = inv;
    s->site_by_name_[sc.name] = site.get();
    s->device_env_[sc.name] = sc.device_env;
    s->sites_.push_back(std::move(site));
  }
  CNET_RETURN_IF_ERROR(s->BuildModel());
  for (auto& [name, env] : s->device_env_)
    if (env.empty()) env = "CUDA_VISIBLE_DEVICES";
  CNET_ASSIGN_OR_RETURN(s->store_, store::Store::Open(s->cfg_.data_dir + "/cnet.db"));
  for (const auto& t : s->cfg_.tenants) {
    store::TenantRow row{t.name, t.max_accelerators, t.max_queued_jobs};
    CNET_RETURN_IF_ERROR(s->store_->PutTenant(row));
  }
  CNET_ASSIGN_OR_RETURN(auto tenants, s->store_->ListTenants());
  for (auto& t : tenants) s->tenants_[t.name] = t;
  s->Recover();
  // After Recover: its running jobs are re-taken first, also on nodes that are down now.
  for (auto& [site, inv] : s->last_inventory_)
    for (const SiteNode& n : inv.nodes)
      if (!n.usable || !inv.healthy) s->sched_->SetNodeUsable(s->node_by_name_[{site, n.name}], false);
  return s;
}

Status Service::AddNodeGroup(const SiteConfig& sc, Site* site, const SiteNode& n) {
  Cluster::GroupSpec g;
  g.site = sc.name;
  g.region = sc.region;
  g.rack = "rack0";
  g.power_cap_kw = sc.power_cap_kw;
  g.name = n.name;
  g.count = 1;
  g.cpus = n.cpus;
  g.memory_gib = n.memory_gib;
  if (!n.accelerator.empty() && n.accelerators > 0) {
    auto id = cat_->Find(n.accelerator);
    if (!id || cat_->Get(*id).kind == AccelKind::kCpu)
      return InvalidArgument("node " + n.name + ": unknown accelerator type '" + n.accelerator + "' (known: " + cat_->NameList() + ")");
    g.accel = *id;
    g.per_node = n.accelerators;
  } else {
    g.accel = cpu_type_;
    g.per_node = std::max(1, n.cpus);
  }
  groups_.push_back(g);
  node_origin_.emplace_back(site, n.name);
  return Status::Ok();
}

Status Service::BuildModel() {
  CNET_ASSIGN_OR_RETURN(Cluster cl, Cluster::Build("computenet", groups_, *cat_));
  auto cluster = std::make_unique<Cluster>(std::move(cl));
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  CNET_ASSIGN_OR_RETURN(std::unique_ptr<Policy> pol, reg.Create(cfg_.policy));
  if (pol->time_sharing())
    return InvalidArgument("policy: '" + cfg_.policy + "' time-shares by preempting; the service runs the "
                           "non-preemptive policies fifo, fifo-hetero, backfill and cost-hetero");
  SchedulerOptions so;
  so.explain_waiting = true;
  auto sched = std::make_unique<Scheduler>(*cluster, *perf_, std::move(pol), so);
  // Nodes keep their ids when the model grows (new groups are appended), so the old scheduler's
  // jobs and node states carry over.
  if (sched_) {
    for (JobId id : sched_->running()) {
      const JobRecord& r = *sched_->Find(id);
      Status st = sched->AdoptRunning(r.spec, r.placement, r.first_start_s, clock_->Now());
      if (!st.ok()) return Internal("model growth: running job " + std::to_string(id.value()) + ": " + st.message());
    }
    for (JobId id : sched_->pending()) {
      Status st = sched->Admit(sched_->Find(id)->spec);
      if (!st.ok()) return Internal("model growth: pending job " + std::to_string(id.value()) + ": " + st.message());
    }
    for (const Node& n : cluster_->nodes()) sched->SetNodeUsable(n.id, sched_->capacity().Usable(n.id));
  }
  site_of_node_.assign(cluster->nodes().size(), nullptr);
  node_site_name_.assign(cluster->nodes().size(), "");
  for (const Node& n : cluster->nodes()) {
    auto [site, name] = node_origin_[n.id.value()];
    site_of_node_[n.id.value()] = site;
    node_site_name_[n.id.value()] = name;
    node_by_name_[{site->name(), name}] = n.id;
    if (site->type() == "local" && n.accel != cpu_type_ && !devices_.count(n.id.value())) {
      devices_[n.id.value()].assign(n.accel_count, false);
      if (device_env_[site->name()].empty())
        device_env_[site->name()] = cat_->Get(n.accel).kind == AccelKind::kNpu ? "ASCEND_RT_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES";
    }
  }
  // Submit reads the model under admit_mu_ only: swap under it (the caller holds core_mu_, if any).
  std::lock_guard<std::mutex> l(admit_mu_);
  sched_ = std::move(sched);
  cluster_ = std::move(cluster);
  return Status::Ok();
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
    for (const cnet::Site& s : cluster_->sites())
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
      incoming_.emplace_back(ins->job, std::make_shared<api::JobRequest>(req));
    }
    cv_.notify_one();
    metrics_.Inc("cnet_jobs_submitted_total", "");
  }
  return Submitted{ins->job, ins->created};
}

// ---- the loop ------------------------------------------------------------------------------

void Service::DrainIncoming(double now) {
  std::deque<std::pair<store::JobRow, std::shared_ptr<api::JobRequest>>> batch;
  {
    std::lock_guard<std::mutex> l(in_mu_);
    batch.swap(incoming_);
  }
  for (auto& [row, req] : batch) {
    const int64_t id = row.id;
    auto a = std::make_unique<Active>();
    a->tenant = row.tenant;
    a->req = *req;
    a->attempts = row.attempts;
    a->state = row.state;
    auto spec = ToSpec(row, *req);
    if (!spec.ok()) {
      Finish(id, JobState::kFailed, "not admissible after restart: " + spec.status().message(), now, std::nullopt);
      continue;
    }
    a->spec = std::move(spec).value();
    held_[a->tenant].push_back(id);
    active_[id] = std::move(a);
  }
  ReleaseHeld(now);
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
    if (a.device_node >= 0)
      for (int d : a.devices) devices_[a.device_node][d] = false;
    if (a.in_sched) (void)sched_->Remove(JobId(id), now);
    active_.erase(it);
  }
  metrics_.Inc("cnet_jobs_finished_total", std::string("state=\"") + store::StateName(to) + "\"");
}

void Service::HandleExits(double now) {
  std::vector<store::Store::TransitionOp> ended, started;
  std::vector<std::pair<int64_t, std::string>> requeue;
  for (auto& site : sites_) {
    for (const SiteEvent& e : site->Poll(now)) {
      auto it = active_.find(e.job_id);
      if (it == active_.end()) continue;
      if (e.kind == SiteEvent::kNote) {
        std::lock_guard<std::mutex> rl(reason_mu_);
        reasons_[e.job_id] = "submitted to " + site->name() + "; " + e.reason;
        continue;
      }
      if (e.kind == SiteEvent::kRequeue) {
        requeue.emplace_back(e.job_id, "requeued: " + e.reason);
        continue;
      }
      store::Store::TransitionOp op;
      op.id = e.job_id;
      op.time = now;
      if (e.kind == SiteEvent::kStarted) {
        if (it->second->state != JobState::kScheduled) continue;
        op.to = JobState::kRunning;
        op.reason = e.reason.empty() ? "running on " + site->name() : e.reason;
        op.update.expected_from = JobState::kScheduled;
        op.update.start_time = now;
        if (!e.runtime_json.empty()) op.update.runtime_json = e.runtime_json;
        started.push_back(std::move(op));
        continue;
      }
      op.update.end_time = now;
      op.update.exit_code = e.exit_code;
      if (it->second->cancel_requested) {
        op.to = JobState::kCancelled;
        op.reason = "cancelled: " + e.reason;
      } else if (e.success) {
        op.to = JobState::kSucceeded;
        op.reason = e.reason.empty() ? "exit code 0" : e.reason;
      } else {
        op.to = JobState::kFailed;
        op.reason = e.reason;
      }
      ended.push_back(std::move(op));
    }
  }
  std::vector<Status> st = store_->TransitionMany(started);  // one commit for every start of this cycle
  for (size_t i = 0; i < started.size(); ++i) {
    if (!st[i].ok()) continue;
    Active& a = *active_[started[i].id];
    a.state = JobState::kRunning;
    AdjustQueued(a.tenant, -1);
  }
  (void)store_->TransitionMany(ended);  // and one for every end
  for (const auto& op : ended) ForgetLocal(op.id, op.to, now);
  for (const auto& [id, why] : requeue) Requeue(id, why, now);
}

void Service::DispatchAll(const std::vector<Decision>& places, double now) {
  // In batches: each batch's handles are committed before the next is launched, so a burst of
  // placements is recorded progressively rather than at the end of the whole burst.
  constexpr size_t kBatch = 64;
  for (size_t i = 0; i < places.size(); i += kBatch) {
    std::vector<Decision> batch(places.begin() + i, places.begin() + std::min(places.size(), i + kBatch));
    DispatchBatch(batch, now);
  }
}

void Service::DispatchBatch(const std::vector<Decision>& places, double now) {
  // Phase 1: devices and a durable SCHEDULED for every placement (one commit), so that a crash
  // after a launch never leaves a job that looks unstarted.
  struct Prep {
    int64_t id;
    Active* a;
    Site* site;
    std::vector<std::vector<int>> per_worker;
    std::string node;
    int nodes;
    std::string accel;
  };
  std::vector<Prep> preps;
  std::vector<store::Store::TransitionOp> ops;
  for (const Decision& d : places) {
    int64_t id = d.job.value();
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    Active& a = *it->second;
    NodeId first = d.placement.slots.front().node;
    Site* site = site_of_node_[first.value()];
    Prep p{id, &a, site, {}, node_site_name_[first.value()], d.placement.Nodes(),
           d.placement.accel == cpu_type_ ? "" : cat_->Get(d.placement.accel).name};
    auto dev = devices_.find(first.value());
    if (dev != devices_.end()) {
      std::vector<int> got;
      for (size_t k = 0; k < dev->second.size() && static_cast<int>(got.size()) < a.spec.workers; ++k)
        if (!dev->second[k]) got.push_back(static_cast<int>(k));
      for (int k : got) dev->second[k] = true;
      a.devices = got;
      a.device_node = first.value();
      for (int w = 0; w < a.req.workers; ++w)
        p.per_worker.emplace_back(got.begin() + w * a.spec.unit, got.begin() + (w + 1) * a.spec.unit);
    }
    json nodes = json::array();
    for (const Slot& sl : d.placement.slots) nodes.push_back(node_site_name_[sl.node.value()]);
    json placement{{"site", site->name()}, {"node", p.node}, {"nodes", nodes},
                   {"accelerator", cat_->Get(d.placement.accel).name}, {"devices", p.per_worker}};
    store::Store::TransitionOp op;
    op.id = id;
    op.to = JobState::kScheduled;
    op.reason = d.reason;
    op.time = now;
    op.update.expected_from = a.state == JobState::kPreempted ? JobState::kPreempted : JobState::kPending;
    op.update.site = site->name();
    op.update.placement_json = placement.dump();
    op.update.increment_attempts = true;
    ops.push_back(std::move(op));
    preps.push_back(std::move(p));
  }
  std::vector<Status> st = store_->TransitionMany(ops);
  // Phase 2: launch; record RUNNING (local) or the submitted handle (slurm), then failures.
  std::vector<store::Store::TransitionOp> running, submitted, failed;
  std::vector<Active*> started;
  std::vector<std::pair<int64_t, std::string>> unreachable;
  std::vector<SiteLaunch> launches(preps.size());
  for (size_t i = 0; i < preps.size(); ++i) {
    Prep& p = preps[i];
    Active& a = *p.a;
    if (!st[i].ok()) {  // cancelled meanwhile, or the store failed: undo
      if (a.device_node >= 0)
        for (int k : a.devices) devices_[a.device_node][k] = false;
      a.devices.clear();
      (void)sched_->Remove(JobId(p.id), now);
      a.in_sched = false;
      continue;
    }
    a.state = JobState::kScheduled;
    a.site = p.site;
    ++a.attempts;
    SiteLaunch& l = launches[i];
    l.job_id = p.id;
    l.attempt = a.attempts;
    l.req = &a.req;
    l.nodes = p.nodes;
    l.accelerator = p.accel;
    l.devices = p.per_worker;
    l.device_env = device_env_[p.site->name()];
  }
  {  // the scheduler's waiting reason no longer applies; the site may give one (kNote)
    std::lock_guard<std::mutex> rl(reason_mu_);
    for (size_t i = 0; i < preps.size(); ++i)
      if (st[i].ok()) reasons_.erase(preps[i].id);
  }
  // The launches themselves, several at a time on sites that allow it (a Slurm submit waits on
  // slurmctld; a local launch is a fork).
  std::vector<std::optional<Result<std::string>>> results(preps.size());
  std::vector<Site::LaunchInfo> infos(preps.size());
  std::map<Site*, std::vector<size_t>> by_site;
  for (size_t i = 0; i < preps.size(); ++i)
    if (st[i].ok()) by_site[preps[i].site].push_back(i);
  for (auto& [site, idx] : by_site) {
    auto launch = [&, site = site](size_t i) { results[i].emplace(site->Launch(launches[i], &infos[i])); };
    const size_t conc = std::min<size_t>(idx.size(), static_cast<size_t>(std::max(1, site->LaunchConcurrency())));
    if (conc <= 1) {
      for (size_t i : idx) launch(i);
      continue;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < conc; ++w)
      workers.emplace_back([&, &idx = idx] {
        for (size_t k; (k = next.fetch_add(1)) < idx.size();) launch(idx[k]);
      });
    for (auto& t : workers) t.join();
  }
  const double launched = clock_->Now();  // the events below happened now, not at the cycle's start
  for (size_t i = 0; i < preps.size(); ++i) {
    if (!st[i].ok()) continue;
    Prep& p = preps[i];
    Active& a = *p.a;
    Site::LaunchInfo& info = infos[i];
    Result<std::string>& h = *results[i];
    const bool now_running = info.started;
    store::Store::TransitionOp op;
    op.id = p.id;
    op.time = launched;
    op.update.expected_from = JobState::kScheduled;
    if (!h.ok() && h.status().code() == Code::kUnavailable) {
      // Nothing was started and the site cannot be reached: the job waits for the next placement.
      unreachable.emplace_back(p.id, "requeued: " + p.site->name() + " could not be reached: " + h.status().message());
      continue;
    }
    if (!h.ok()) {
      op.to = JobState::kFailed;
      op.reason = "launch failed on " + p.site->name() + ": " + h.status().message();
      op.update.end_time = launched;
      failed.push_back(std::move(op));
      continue;
    }
    op.update.runtime_json = *h;
    if (now_running) {
      op.to = JobState::kRunning;
      op.reason = "started " + std::to_string(a.req.workers) + " process(es) on " + p.site->name() + "/" + p.node;
      op.update.start_time = launched;
      running.push_back(std::move(op));
      started.push_back(&a);
    } else {
      op.to = JobState::kScheduled;
      op.reason = "submitted to " + p.site->name() + (info.note.empty() ? "" : " (" + info.note + ")");
      submitted.push_back(std::move(op));
    }
  }
  (void)store_->TransitionMany(running);
  for (Active* a : started) {
    a->state = JobState::kRunning;
    AdjustQueued(a->tenant, -1);
  }
  (void)store_->TransitionMany(submitted);
  (void)store_->TransitionMany(failed);
  for (const auto& op : failed) ForgetLocal(op.id, op.to, now);
  for (const auto& [id, why] : unreachable) Requeue(id, why, now);
}

void Service::Requeue(int64_t id, const std::string& reason, double now) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Active& a = *it->second;
  if (a.cancel_requested) {  // it was being cancelled: nothing left to stop
    Finish(id, JobState::kCancelled, "cancelled (" + reason + ")", now, std::nullopt);
    return;
  }
  store::Store::Update u;
  u.expected_from = a.state;
  if (!store_->Transition(id, JobState::kPending, reason, now, u).ok()) return;
  if (a.state == JobState::kRunning) AdjustQueued(a.tenant, 1);  // queued again
  if (a.in_sched) (void)sched_->Remove(JobId(id), now);
  a.in_sched = false;
  if (a.device_node >= 0)
    for (int d : a.devices) devices_[a.device_node][d] = false;
  a.devices.clear();
  a.device_node = -1;
  a.state = JobState::kPending;
  a.site = nullptr;
  a.reason = reason;
  held_[a.tenant].push_front(id);  // ahead of the tenant's newer jobs
  metrics_.Inc("cnet_jobs_requeued_total", "");
}

void Service::RedispatchStranded(double now) {
  for (auto& site : sites_) {
    const SiteConfig* sc = SiteCfg(site->name());
    double since = unhealthy_since_[site->name()];
    if (!sc || sc->redispatch_after_s <= 0 || since <= 0 || now - since < sc->redispatch_after_s) continue;
    SiteId sid;
    for (const cnet::Site& cs : cluster_->sites())
      if (cs.name == site->name()) sid = cs.id;
    std::vector<int64_t> ids;
    for (const auto& [id, a] : active_)
      if (a->site == site.get() && a->state == JobState::kScheduled && !a->cancel_requested) ids.push_back(id);
    for (int64_t id : ids) {
      Active& a = *active_[id];
      // Only where the job's spec allows another site that could hold it.
      JobSpec probe = a.spec;
      if (probe.allowed_sites.empty())
        for (const cnet::Site& cs : cluster_->sites()) probe.allowed_sites.push_back(cs.id);
      probe.allowed_sites.erase(std::remove(probe.allowed_sites.begin(), probe.allowed_sites.end(), sid), probe.allowed_sites.end());
      if (probe.allowed_sites.empty() || !sched_->Prepare(probe).ok()) continue;
      if (!site->Withdraw(id, a.attempts)) continue;  // it may have started: wait for the site
      Requeue(id, "re-dispatched: " + site->name() + " has been unreachable for " + std::to_string(static_cast<int>(now - since)) +
                      " s (" + last_inventory_[site->name()].reason + "); attempt " + std::to_string(a.attempts) + " withdrawn there",
              now);
    }
  }
}

const SiteConfig* Service::SiteCfg(const std::string& name) const {
  for (const SiteConfig& sc : cfg_.sites)
    if (sc.name == name) return &sc;
  return nullptr;
}

void Service::RefreshInventories(double now) {
  for (auto& site : sites_) {
    if (site->type() == "local") continue;
    double& next = next_inventory_[site->name()];
    if (now < next) continue;
    const SiteConfig* sc = SiteCfg(site->name());
    next = now + (sc ? sc->inventory_interval_s : 2.0);
    SiteInventory inv = site->Inventory();
    double& since = unhealthy_since_[site->name()];
    if (!inv.healthy && since <= 0) since = now;
    if (inv.healthy) since = 0;
    SiteInventory& last = last_inventory_[site->name()];
    if (inv.healthy) {
      // Nodes Slurm reports that the model lacks (added since): the model grows. Nodes it no
      // longer reports (removed) take no new work.
      std::set<std::string> seen;
      size_t before = groups_.size();
      for (const SiteNode& n : inv.nodes) {
        seen.insert(n.name);
        if (node_by_name_.count({site->name(), n.name}) || !sc) continue;
        Status st = AddNodeGroup(*sc, site.get(), n);
        if (!st.ok()) inv.reason = "node " + n.name + " ignored: " + st.message();
      }
      if (groups_.size() > before) {
        Status st = BuildModel();
        if (st.ok()) {
          metrics_.Inc("cnet_site_nodes_added_total", "site=\"" + site->name() + "\"", static_cast<double>(groups_.size() - before));
        } else {
          groups_.resize(before);
          node_origin_.resize(before);
          inv.reason = "new nodes not taken in: " + st.message();
        }
      }
      for (const auto& [key, id] : node_by_name_)
        if (key.first == site->name() && !seen.count(key.second)) {
          SiteNode gone;
          gone.name = key.second;
          gone.usable = false;
          gone.reason = "no longer reported by the site";
          inv.nodes.push_back(gone);
        }
    }
    for (const SiteNode& n : inv.nodes) {
      auto it = node_by_name_.find({site->name(), n.name});
      if (it == node_by_name_.end()) continue;  // not taken in (see the site's reason)
      sched_->SetNodeUsable(it->second, inv.healthy && n.usable);
    }
    if (!inv.healthy)  // unreachable: none of its nodes takes new work
      for (const auto& [key, id] : node_by_name_)
        if (key.first == site->name()) sched_->SetNodeUsable(id, false);
    if (inv.healthy != last.healthy)
      metrics_.Inc("cnet_site_health_changes_total", "site=\"" + site->name() + "\"");
    metrics_.SetGauge("cnet_site_healthy", "site=\"" + site->name() + "\"", inv.healthy ? 1 : 0);
    if (inv.healthy || !inv.nodes.empty()) last = inv;
    else { last.healthy = false; last.reason = inv.reason; }
  }
}

void Service::Tick() {
  double t0 = MonotonicSeconds();
  std::lock_guard<std::mutex> l(core_mu_);
  double now = clock_->Now();
  DrainIncoming(now);
  RefreshInventories(now);
  HandleExits(now);
  RedispatchStranded(now);
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
    const double t0 = MonotonicSeconds();
    Tick();
    const double took = MonotonicSeconds() - t0;
    std::unique_lock<std::mutex> l(in_mu_);
    // Every cycle_interval_s, or at once when jobs arrive.
    cv_.wait_for(l, std::chrono::duration<double>(cfg_.cycle_interval_s),
                 [this] { return stop_.load() || !incoming_.empty(); });
    // Woken by a submit: let the burst gather a little, so that a stream of submits does not keep
    // the loop busy more than about half the time (a cycle over a long queue costs tens of ms).
    const double rest = t0 + std::min(cfg_.cycle_interval_s, std::max(0.01, 2 * took)) - MonotonicSeconds();
    l.unlock();
    if (rest > 0 && !stop_) std::this_thread::sleep_for(std::chrono::duration<double>(rest));
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

Site* Service::SiteOfJob(const store::JobRow& row) const {
  auto it = site_by_name_.find(row.site);
  return it == site_by_name_.end() ? nullptr : it->second;
}

void Service::Recover() {
  auto rows = store_->ActiveJobs();
  if (!rows.ok()) return;
  double now = clock_->Now();
  std::lock_guard<std::mutex> l(core_mu_);
  auto requeue = [&](const store::JobRow& row, const api::JobRequest& req, const std::string& why) {
    store::Store::Update u;
    u.expected_from = row.state;
    (void)store_->Transition(row.id, JobState::kPending, why, now, u);
    AdjustQueued(row.tenant, 1);
    store::JobRow pending = row;
    pending.state = JobState::kPending;
    incoming_.emplace_back(std::move(pending), std::make_shared<api::JobRequest>(req));
  };
  for (const auto& row : *rows) {
    auto req = api::JobRequestFromJson(json::parse(row.spec_json, nullptr, false), cfg_.limits);
    if (!req.ok()) {
      (void)store_->Transition(row.id, JobState::kFailed, "spec no longer valid: " + req.status().message(), now, {});
      continue;
    }
    if (row.state == JobState::kPending || row.state == JobState::kPreempted) {
      AdjustQueued(row.tenant, 1);
      incoming_.emplace_back(row, std::make_shared<api::JobRequest>(*req));
      continue;
    }
    // SCHEDULED or RUNNING: find its run on its site.
    Site* site = SiteOfJob(row);
    if (!site) {
      store::Store::Update u;
      u.end_time = now;
      (void)store_->Transition(row.id, JobState::kFailed, "its site '" + row.site + "' is no longer configured", now, u);
      continue;
    }
    std::string handle = row.runtime_json;
    bool interrupted = handle.empty();
    if (interrupted) {
      // Dispatch was interrupted between SCHEDULED and the launch being recorded.
      auto found = site->FindInterrupted(row.id, row.attempts);
      if (!found) {
        requeue(row, *req, "requeued: the service stopped before it started");
        continue;
      }
      handle = *found;
    }
    if (!site->Adopt(row.id, handle)) {
      if (row.attempts <= req->max_retries) {
        requeue(row, *req, "requeued: its run was gone after a restart");
      } else {
        store::Store::Update u;
        u.end_time = now;
        (void)store_->Transition(row.id, JobState::kFailed,
                                 "lost: its run ended while the service was down and left no exit status", now, u);
      }
      continue;
    }
    auto a = std::make_unique<Active>();
    a->tenant = row.tenant;
    a->req = *req;
    a->attempts = row.attempts;
    a->state = row.state;
    a->site = site;
    auto spec = ToSpec(row, *req);
    if (!spec.ok()) continue;
    a->spec = *spec;
    // Re-take its accelerators in the scheduler, and its devices.
    json pj = json::parse(row.placement_json.empty() ? "{}" : row.placement_json, nullptr, false);
    Placement p;
    if (pj.is_object()) {
      std::vector<std::string> names;
      if (pj.contains("nodes")) for (const auto& n : pj["nodes"]) names.push_back(n.get<std::string>());
      else if (pj.contains("node")) names.push_back(pj["node"].get<std::string>());
      int per = names.empty() ? 0 : a->spec.workers / static_cast<int>(names.size());
      for (size_t k = 0; k < names.size(); ++k) {
        auto it = node_by_name_.find({site->name(), names[k]});
        if (it == node_by_name_.end()) continue;
        p.accel = cluster_->node(it->second).accel;
        int count = k + 1 == names.size() ? a->spec.workers - per * static_cast<int>(k) : per;
        p.slots.push_back(Slot{it->second, count});
        auto dev = devices_.find(it->second.value());
        if (dev != devices_.end() && pj.contains("devices")) {
          a->device_node = it->second.value();
          for (const auto& w : pj["devices"])
            for (const auto& d : w) {
              int k2 = d.get<int>();
              if (k2 >= 0 && k2 < static_cast<int>(dev->second.size())) { dev->second[k2] = true; a->devices.push_back(k2); }
            }
        }
      }
    }
    Status st = p.slots.empty() ? Status(Code::kNotFound, "no placement")
                                : sched_->AdoptRunning(a->spec, p, row.start_time > 0 ? row.start_time : now, now);
    a->in_sched = st.ok();
    if (interrupted) {
      store::Store::Update u;
      u.expected_from = JobState::kScheduled;
      u.runtime_json = handle;
      bool local = site->type() == "local";
      if (local) u.start_time = now;
      (void)store_->Transition(row.id, local ? JobState::kRunning : JobState::kScheduled,
                               "re-adopted after a restart (dispatch was interrupted)", now, u);
      if (local) {
        a->state = JobState::kRunning;
        AdjustQueued(row.tenant, -1);  // it was counted as queued while SCHEDULED
      }
    } else {
      (void)store_->SetReason(row.id, "re-adopted after a restart");
    }
    if (a->state == JobState::kScheduled) AdjustQueued(row.tenant, 1);
    active_[row.id] = std::move(a);
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
  if (r.state == JobState::kPending || r.state == JobState::kScheduled) {
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
  if (a.site && (a.state == JobState::kRunning || a.state == JobState::kScheduled)) {
    a.cancel_requested = true;
    Status st = a.site->Kill(id, "cancelled by " + (c.admin ? std::string("an admin") : c.tenant));
    if (!st.ok()) return Err(502, "site " + a.site->name() + ": " + st.message());
    return json{{"id", id}, {"state", store::StateName(a.state)}, {"message", "cancelling: its run is being stopped"}};
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
  Site* site = SiteOfJob(*r);
  if (!site) return Err(404, "job " + std::to_string(id) + " has no logs yet (not dispatched)");
  std::string path = site->LogPath(id, att, stream);
  return std::make_pair(path, store::IsTerminal(r->state));
}

json Service::Sites() {
  std::lock_guard<std::mutex> l(core_mu_);
  json sites = json::array();
  for (const auto& site : sites_) {
    const SiteInventory& inv = last_inventory_[site->name()];
    json nodes = json::array();
    json free_by_type = json::object(), total_by_type = json::object();
    std::string region;
    for (const Node& n : cluster_->nodes()) {
      if (site_of_node_[n.id.value()] != site.get()) continue;
      region = cluster_->site(n.site).region;
      std::string type = cat_->Get(n.accel).name;
      bool cpu = n.accel == cpu_type_;
      int free = sched_->capacity().Free(n.id);
      bool usable = sched_->capacity().Usable(n.id);
      std::string why;
      for (const SiteNode& sn : inv.nodes)
        if (sn.name == node_site_name_[n.id.value()]) why = sn.reason;
      nodes.push_back({{"name", node_site_name_[n.id.value()]}, {"kind", cpu ? "cpu" : "accelerator"}, {"type", type},
                       {"count", n.accel_count}, {"free", free}, {"usable", usable}, {"reason", why},
                       {"cpus", n.cpus}, {"memory_gib", n.memory_gib}});
      free_by_type[type] = free_by_type.value(type, 0) + free;
      total_by_type[type] = total_by_type.value(type, 0) + n.accel_count;
    }
    sites.push_back({{"name", site->name()}, {"type", site->type()}, {"region", region}, {"healthy", inv.healthy},
                     {"reason", inv.reason}, {"nodes", nodes}, {"capacity", total_by_type}, {"free", free_by_type}});
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
