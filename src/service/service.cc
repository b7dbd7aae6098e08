#include "service/service.h"
#include "service/dataset_jobs.h"

#include <sys/prctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "backends/unix_account.h"
#include "common/log.h"

#include "service/recovery.h"

namespace cnet::service {

using store::JobState;

namespace {

std::string JobWord(int64_t id) { return "job " + std::to_string(id); }

}  // namespace

Result<std::unique_ptr<Service>> Service::Create(ServiceConfig cfg, ServiceDeps deps, const std::string& catalogue_path,
                                                 const std::string& throughputs_path) {
  std::unique_ptr<Service> s(new Service());
  s->cfg_ = std::move(cfg);
  if (!deps.clock) deps.clock = (s->own_clock_ = std::make_unique<SystemClock>()).get();
  if (!deps.log) deps.log = NullLogger("service");
  if (!deps.policies) {
    s->own_policies_ = std::make_unique<PolicyRegistry>();
    RegisterBuiltinPolicies(*s->own_policies_);
    deps.policies = s->own_policies_.get();
  }
  if (!deps.backends) {
    s->own_backends_ = std::make_unique<backends::BackendRegistry>();
    backends::RegisterBuiltinBackends(*s->own_backends_);
    deps.backends = s->own_backends_.get();
  }
  s->deps_ = deps;
  std::error_code ec;
  std::filesystem::create_directories(s->cfg_.data_dir, ec);
  if (ec) return Unavailable("--data: cannot create " + s->cfg_.data_dir + ": " + ec.message());
  // The service's state (database, private run records, logs) is its own: jobs cannot reach it.
  if (::chmod(s->cfg_.data_dir.c_str(), 0700) != 0)
    return Unavailable("--data: cannot make " + s->cfg_.data_dir + " private (chmod 0700): " + std::strerror(errno));
  CNET_ASSIGN_OR_RETURN(Catalogue cat, Catalogue::LoadWithExtensions(catalogue_path, s->cfg_.catalogue_extensions));
  s->cat_ = std::make_unique<Catalogue>(std::move(cat));
  // Without a matrix every job runs at 1 step/s (steps = estimated seconds).
  auto m = throughputs_path.empty()
               ? ThroughputMatrix::ParseCsv("job_type,accelerator,workers,steps_per_second\nnone,V100,1,1\n", "(none)", *s->cat_)
               : ThroughputMatrix::LoadCsv(throughputs_path, *s->cat_);
  if (!m.ok()) return m.status();
  s->matrix_ = std::make_unique<ThroughputMatrix>(std::move(m).value());
  s->perf_ = std::make_unique<PerfModel>(*s->cat_, *s->matrix_);
#if defined(__aarch64__)
  const AccelId cpu = *s->cat_->Find("arm-cpu");
#else
  const AccelId cpu = *s->cat_->Find("x86-cpu");
#endif
  s->admission_ = std::make_unique<Admission>(*s->cat_, *s->matrix_, *s->perf_, cpu);
  CNET_RETURN_IF_ERROR(s->cfg_.economics->Resolve(*s->cat_));
  std::map<std::string, Objective> objectives;
  for (const TenantConfig& t : s->cfg_.tenants) objectives[t.name] = t.objective;
  s->admission_->SetDefaultObjectives(std::move(objectives));
  CNET_ASSIGN_OR_RETURN(s->store_, store::Store::Open(s->cfg_.data_dir + "/cnet.db",
                                                     store::OpenOptions{s->cfg_.integrity_check_s}));
  CNET_ASSIGN_OR_RETURN(s->datasets_, Datasets::Open(s->cfg_.data_dir + "/cnet.db", s->cfg_.sites, *deps.clock));
  s->admission_->SetDatasets(s->datasets_.get());
  if (deps.wrap_store) s->store_ = deps.wrap_store(std::move(s->store_));
  auto health = std::make_unique<store::HealthStore>(std::move(s->store_));
  s->health_ = health.get();
  s->store_ = std::move(health);
  s->auth_ = std::make_unique<Authenticator>(*s->store_, *deps.clock);
  s->st_ = std::make_unique<LoopState>(s->cfg_, *deps.clock, deps.log, *s->store_, s->metrics_, *s->cat_, *s->perf_,
                                       *s->admission_, s->ledger_, *deps.policies);
  CNET_RETURN_IF_ERROR(s->BuildSites(*deps.backends));
  CNET_RETURN_IF_ERROR(s->LoadPowerOverrides());
  CNET_RETURN_IF_ERROR(s->LoadTenants());
  // Orphaned descendants of a job's workers are reparented to us and reaped by the local site,
  // not left as zombies under an init that may not reap.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  CNET_RETURN_IF_ERROR(Recover(*s->st_));
  s->loop_ = std::make_unique<ControlLoop>(*s->st_, deps.inline_launches);
  s->datasets_->SetOnChange([loop = s->loop_.get()](const std::string& d, bool enforce) { loop->DatasetChanged(d, enforce); });
  // After recovery, so its running jobs are re-taken also on nodes that are down now.
  for (size_t i = 0; i < s->st_->sites.size(); ++i)
    s->loop_->reconciler().TakeInventory(static_cast<int>(i), s->st_->sites[i].inventory);
  s->loop_->Tick();  // publish a first read model
  for (const auto& w : s->cat_->AmbiguousUses()) deps.log->warn("{}", w);  // names in the config
  deps.log->info("service ready: {} site(s), policy {}, {} job(s) recovered", s->st_->sites.size(), s->cfg_.policy,
                 s->st_->jobs.size());
  return s;
}

namespace {

// A backend that reads its inventory in a thread of its own has none right after it is built:
// wait, bounded, for its first answer (nodes, or a verdict that the site is unhealthy), so that
// jobs submitted right after start are admitted against the site's real nodes.
backends::SiteInventory FirstInventory(backends::SiteBackend& b) {
  constexpr double kWaitS = 10;
  const double until = MonotonicSeconds() + kWaitS;
  backends::SiteInventory inv = b.Inventory();
  while (!inv.read && MonotonicSeconds() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    inv = b.Inventory();
  }
  return inv;
}

}  // namespace

Status Service::BuildSites(const backends::BackendRegistry& reg) {
  LoopState& st = *st_;
  for (size_t i = 0; i < cfg_.sites.size(); ++i) {
    const SiteConfig& sc = cfg_.sites[i];
    backends::BackendEnv env{cfg_.data_dir, sc.where, SharedSiteKeys(), cfg_.allow_root_jobs};
    env.file = sc.file;
    env.path = sc.path;
    auto b = reg.Create(sc.type, sc.name, sc.block, env);
    if (!b.ok()) return b.status();
    SiteRuntime rt;
    rt.cfg = sc;
    rt.backend = std::move(b).value();
    rt.caps = rt.backend->capabilities();
    rt.inventory = FirstInventory(*rt.backend);
    // A healthy site may still have something to say (e.g. the local site without cgroups).
    if (rt.inventory.healthy && !rt.inventory.reason.empty()) st.log->warn("site {}: {}", sc.name, rt.inventory.reason);
    for (const auto& n : rt.inventory.nodes) {
      Status a = st.view.Add(sc.name, sc.region, sc.power_cap_kw, n);
      if (!a.ok()) return InvalidArgument(sc.where + ": " + a.message());
    }
    st.site_index[sc.name] = static_cast<int>(i);
    st.power.AddSite(sc.name, sc.power_cap_kw, sc.power_budget);
    st.sites.push_back(std::move(rt));
  }
  return st.RebuildModel();
}

// Quota keys are accelerator types as the catalogue names them (aliases accepted), or "*".
Result<store::TenantRow> Service::Canonical(store::TenantRow t) const {
  std::map<std::string, int> limits;
  for (const auto& [type, limit] : t.max_accelerators) {
    if (type == "*") {
      limits[type] = limit;
      continue;
    }
    auto id = cat_->Find(type);
    if (!id) return InvalidArgument("max_accelerators." + type + ": unknown accelerator type (known: " + cat_->NameList() + ")");
    limits[cat_->Get(*id).name] = limit;
  }
  t.max_accelerators = std::move(limits);
  return t;
}

// The tenant's Unix account: as given, else as already recorded, else cnet-<tenant>. An account
// that exists must not be root's. Accounts are created when first needed (local_backend.h).
Result<std::string> Service::UnixUserFor(const store::TenantRow& t) const {
  std::string name = t.unix_user;
  if (name.empty()) {
    auto prior = store_->GetTenant(t.name);
    if (prior.ok() && *prior && !(*prior)->unix_user.empty()) name = (*prior)->unix_user;
  }
  if (name.empty()) name = backends::DefaultUnixUser(t.name);
  CNET_RETURN_IF_ERROR(backends::CheckUnixUserName(name));
  CNET_ASSIGN_OR_RETURN(auto acct, backends::LookupAccount(name));
  if (acct && acct->uid == 0) return InvalidArgument("unix_user: '" + name + "' is uid 0; jobs never run as root");
  return name;
}

Status Service::LoadTenants() {
  for (const auto& t : cfg_.tenants) {
    CNET_ASSIGN_OR_RETURN(store::TenantRow row, Canonical({t.name, t.max_accelerators, t.max_queued_jobs, t.unix_user}));
    CNET_ASSIGN_OR_RETURN(row.unix_user, UnixUserFor(row));
    CNET_RETURN_IF_ERROR(store_->PutTenant(row));
  }
  CNET_ASSIGN_OR_RETURN(auto tenants, store_->ListTenants());
  for (const auto& t : tenants) ledger_.PutTenant(t);
  return Status::Ok();
}

Service::~Service() { Stop(); }

void Service::Start() {
  loop_->Start();
  auth_->StartFlushing(Authenticator::kLastUseEveryS / 6, deps_.log);
}
void Service::Stop() {
  if (loop_) loop_->Stop();
  if (auth_) auth_->StopFlushing();
}

Service::HealthView Service::Health() {
  store::WriteHealth h = health_->Health();
  if (!h.writable) {
    std::lock_guard l(probe_mu_);
    const double now = MonotonicSeconds();
    if (now - last_probe_ >= 1.0) {
      last_probe_ = now;
      if (health_->CheckWritable().ok()) deps_.log->info("store: writes commit again");
      h = health_->Health();
    }
  }
  if (h.writable) return {};
  return {false, "store: writes are failing: " + h.last_error};
}

Result<Caller> Service::Authenticate(const std::string& bearer) { return auth_->Authenticate(bearer); }

Result<Service::Submitted> Service::Submit(const Caller& c, const api::JobRequest& req, const std::string& idem) {
  if (c.admin) return PermissionDenied("tenant: admins do not submit jobs; use a tenant token");
  if (idem.size() > 128) return InvalidArgument("Idempotency-Key: longer than 128 characters");
  auto spec = admission_->Check(*st_->Model(), ledger_.Tenant(c.tenant), req);
  if (!spec.ok() && spec.status().code() == Code::kInfeasible && !req.inputs.empty())
    AuditRefusal(*datasets_, c.tenant, req, spec.status().message());  // service/dataset_jobs.h
  if (!spec.ok()) return spec.status();
  CNET_RETURN_IF_ERROR(CheckDependencies(c, req));
  api::ArraySpec array;
  if (!req.array.empty()) {
    CNET_ASSIGN_OR_RETURN(array, api::ParseArraySpec(req.array, "array", cfg_.limits.max_array_size));
  }
  if (!idem.empty()) {  // a replay returns the first job without counting against any quota
    CNET_ASSIGN_OR_RETURN(auto prior, store_->FindByIdempotencyKey(c.tenant, idem));
    if (prior) return Submitted{*prior, false, 1};
  }
  if (!req.output.empty()) CNET_RETURN_IF_ERROR(RegisterOutput(*datasets_, c, req));
  const int tasks = req.array.empty() ? 1 : static_cast<int>(array.indices.size());
  for (int i = 0; i < tasks; ++i) {
    if (Status q = ledger_.ReserveQueued(c.tenant); !q.ok()) {
      for (int k = 0; k < i; ++k) ledger_.Unreserve(c.tenant);
      return q;
    }
  }
  store::JobRow row;
  row.tenant = c.tenant;
  row.name = req.name;
  row.spec_json = api::ToJson(req).dump();
  row.submit_time = deps_.clock->Now();
  row.idempotency_key = idem;
  std::vector<store::JobRow> rows;
  if (!req.array.empty())
    for (int index : array.indices) {
      rows.push_back(row);
      rows.back().array_index = index;
    }
  auto ins = req.array.empty() ? store_->InsertJob(std::move(row)) : store_->InsertArray(rows);
  if (!ins.ok() || !ins->created)
    for (int k = 0; k < tasks; ++k) ledger_.Unreserve(c.tenant);
  if (!ins.ok()) return Unavailable("store: the job was not recorded (nothing was submitted; retry later): " + ins.status().message());
  if (!ins->created) return Submitted{ins->job, false, 1};
  if (rows.empty()) {
    loop_->Submitted(ins->job, req);
  } else {
    for (size_t i = 0; i < rows.size(); ++i) {  // InsertArray gives the tasks consecutive ids
      store::JobRow task = ins->job;
      task.id = ins->job.id + static_cast<int64_t>(i);
      task.array_id = ins->job.id;
      task.array_index = rows[i].array_index;
      if (i > 0) task.idempotency_key.clear();
      loop_->Submitted(task, req);
    }
  }
  metrics_.Inc("cnet_jobs_submitted_total", "", tasks);
  return Submitted{ins->job, true, tasks};
}

Status Service::CheckDependencies(const Caller& c, const api::JobRequest& req) {
  for (const api::Dependency& d : req.dependency) {
    auto row = store_->GetJob(d.job);
    if ((!row.ok() && row.status().code() == Code::kNotFound) || (row.ok() && row->tenant != c.tenant))
      return Infeasible("dependency: job " + std::to_string(d.job) + " not found (a dependency names a job of your own)");
    if (!row.ok()) return Unavailable("store: " + row.status().message());
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> Service::Targets(const store::JobRow& row, bool whole_array) {
  if (!whole_array || row.array_id != row.id) return std::vector<int64_t>{row.id};
  auto tasks = store_->ArrayTasks(row.id);
  if (!tasks.ok()) return Unavailable("store: " + tasks.status().message());
  std::vector<int64_t> ids;
  for (const auto& [id, state] : *tasks) ids.push_back(id);
  return ids;
}

Result<store::JobRow> Service::OwnedJob(const Caller& c, int64_t id) {
  auto r = store_->GetJob(id);
  if (!r.ok() && r.status().code() == Code::kNotFound) return NotFound(JobWord(id) + " not found");
  if (!r.ok()) return Unavailable("store: " + r.status().message());
  if (!c.admin && r->tenant != c.tenant) return PermissionDenied(JobWord(id) + " belongs to another tenant");
  return r;
}

std::string Service::LiveReason(const store::JobRow& row) const {
  if (row.state != JobState::kPending && row.state != JobState::kScheduled && row.state != JobState::kPreempted) return "";
  auto m = loop_->Read();
  if (auto it = m->reasons->find(row.id); it != m->reasons->end()) return it->second;
  if (row.state == JobState::kScheduled) return "";
  if (int64_t pos = m->queue->Position(row.id); pos >= 0)
    return "queued: " + std::to_string(pos) + " job(s) ahead of it in the scheduler's queue (the first " +
           std::to_string(m->explain_limit) + " waiting jobs get a detailed reason)";
  if (auto it = m->held_reasons->find(row.tenant); it != m->held_reasons->end()) return it->second;
  return "";
}

double Service::EstimatedStart(const store::JobRow& row) const {
  if (row.state != JobState::kPending && row.state != JobState::kPreempted) return -1;
  auto m = loop_->Read();
  auto it = m->estimated_starts->find(row.id);
  return it == m->estimated_starts->end() ? -1 : it->second;
}

Result<JobView> Service::GetJob(const Caller& c, int64_t id, bool with_events) {
  CNET_ASSIGN_OR_RETURN(store::JobRow row, OwnedJob(c, id));
  JobView v{row, LiveReason(row), {}, EstimatedStart(row)};
  if (with_events) {
    auto es = store_->Events(id);
    if (!es.ok()) return Unavailable("store: " + es.status().message());
    v.events = std::move(es).value();
  }
  return v;
}

Result<std::vector<JobView>> Service::ListJobs(const Caller& c, store::JobFilter f) {
  if (!c.admin) {
    if (f.tenant && *f.tenant != c.tenant) return PermissionDenied("tenant: you may list only your own jobs");
    f.tenant = c.tenant;
  }
  auto rows = store_->ListJobs(f);
  if (!rows.ok())
    return rows.status().code() == Code::kInvalidArgument ? rows.status() : Unavailable("store: " + rows.status().message());
  std::vector<JobView> out;
  for (auto& r : *rows) {
    std::string live = LiveReason(r);
    const double est = EstimatedStart(r);
    out.push_back({std::move(r), std::move(live), {}, est});
  }
  return out;
}

Result<CancelOutcome> Service::Cancel(const Caller& c, int64_t id, bool whole_array) {
  CNET_ASSIGN_OR_RETURN(store::JobRow row, OwnedJob(c, id));
  CNET_ASSIGN_OR_RETURN(std::vector<int64_t> ids, Targets(row, whole_array));
  if (ids.size() == 1 && store::IsTerminal(row.state))
    return FailedPrecondition(JobWord(id) + " is already " + store::StateName(row.state));
  auto f = loop_->Cancel(ids, c.admin ? std::string(kAdminActor) : c.tenant);
  if (f.wait_for(std::chrono::seconds(30 + ids.size() / 100)) != std::future_status::ready)
    return Unavailable("the service is busy; the cancel may still take effect");
  std::vector<Result<CancelOutcome>> rs = f.get();
  if (ids.size() == 1) return rs.front();
  std::optional<CancelOutcome> first;
  int cancelled = 0, ended = 0;
  for (Result<CancelOutcome>& r : rs) {
    if (!r.ok() && r.status().code() != Code::kFailedPrecondition) return r.status();
    if (!r.ok()) {
      ++ended;
      continue;
    }
    ++cancelled;
    if (!first) first = *r;
  }
  if (!first) return FailedPrecondition("array " + std::to_string(id) + ": every task has already ended");
  first->message = "array " + std::to_string(id) + ": " + std::to_string(cancelled) + " task(s) cancelled or being cancelled" +
                   (ended ? ", " + std::to_string(ended) + " had already ended" : "");
  return *first;
}

Result<Service::ActOutcome> Service::Act(const Caller& c, UserAction what, int64_t id, bool whole_array) {
  CNET_ASSIGN_OR_RETURN(store::JobRow row, OwnedJob(c, id));
  CNET_ASSIGN_OR_RETURN(std::vector<int64_t> ids, Targets(row, whole_array));
  auto f = loop_->Act(what, ids, c.admin ? std::string(kAdminActor) : "user " + c.tenant);
  if (f.wait_for(std::chrono::seconds(30 + ids.size() / 100)) != std::future_status::ready)
    return Unavailable("the service is busy; the action may still take effect");
  std::vector<Result<JobState>> rs = f.get();
  ActOutcome out;
  Status first_error;
  for (Result<JobState>& r : rs) {
    if (!r.ok() && (ids.size() == 1 || r.status().code() == Code::kUnavailable)) return r.status();
    if (!r.ok()) {
      if (first_error.ok()) first_error = r.status();
      out.skipped.push_back(r.status().message());
      continue;
    }
    if (out.done++ == 0) out.state = *r;
  }
  if (out.done == 0) return first_error.ok() ? FailedPrecondition("array " + std::to_string(id) + " has no tasks") : first_error;
  return out;
}

Result<LogLocation> Service::Logs(const Caller& c, int64_t id, const std::string& stream, int attempt) {
  CNET_ASSIGN_OR_RETURN(store::JobRow row, OwnedJob(c, id));
  if (stream != "stdout" && stream != "stderr") return InvalidArgument("stream: must be stdout or stderr");
  const int att = attempt > 0 ? attempt : std::max(1, row.attempts);
  if (att > std::max(1, row.attempts))
    return InvalidArgument("attempt: the job has had " + std::to_string(row.attempts) + " attempt(s)");
  const int site = st_->SiteOf(row.site);  // sites never change after Create: safe to read here
  if (site < 0) return NotFound(JobWord(id) + " has no logs yet (not dispatched)");
  return LogLocation{st_->sites[site].backend->LogPath(id, att, stream), store::IsTerminal(row.state)};
}

Result<bool> Service::IsTerminal(int64_t id) {
  auto r = store_->GetJob(id);
  if (!r.ok()) return Unavailable("store: " + r.status().message());
  return store::IsTerminal(r->state);
}

Result<Service::UsageView> Service::Usage(const Caller& c, const std::string& tenant0) {
  const std::string tenant = tenant0.empty() ? c.tenant : tenant0;
  if (!c.admin && tenant != c.tenant) return PermissionDenied("tenant: you may read only your own usage");
  if (tenant.empty()) return InvalidArgument("tenant: name a tenant (admins have no usage of their own)");
  return UsageView{tenant, ledger_.Usage(tenant), ledger_.Tenant(tenant)};
}

Result<store::TenantRow> Service::PutTenant(const Caller& c, const store::TenantRow& t0) {
  if (!c.admin) return PermissionDenied("admin role required");
  if (t0.name.empty() || t0.name.size() > 63 ||
      t0.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos)
    return InvalidArgument("name: 1-63 letters, digits, '-', '_' or '.'");
  if (t0.max_queued_jobs < 0 || t0.max_queued_jobs > 10000000) return InvalidArgument("max_queued_jobs: an integer from 0 to 10000000");
  for (const auto& [type, limit] : t0.max_accelerators)
    if (limit < 0 || limit > 1000000) return InvalidArgument("max_accelerators." + type + ": an integer from 0 to 1000000");
  CNET_ASSIGN_OR_RETURN(store::TenantRow t, Canonical(t0));
  CNET_ASSIGN_OR_RETURN(t.unix_user, UnixUserFor(t));
  Status st = store_->PutTenant(t);
  if (!st.ok()) return Unavailable("store: " + st.message());
  ledger_.PutTenant(t);  // held jobs of this tenant are looked at again by the next tick
  loop_->Wake();
  return t;
}

}  // namespace cnet::service
