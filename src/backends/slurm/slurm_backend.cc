// The Slurm site: construction, the SiteBackend calls, the inventory cache and the registry's
// factory. The refresher, exit files and fencing are in their own files (slurm_backend_impl.h).
#include "backends/slurm/slurm_backend.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "backends/config_block.h"
#include "backends/slurm/slurm_backend_impl.h"
#include "common/clock.h"
#include "common/csv.h"

namespace cnet::backends::slurm {

using nlohmann::json;

namespace {

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The nodes the request may run on, sorted (compared with the nodes Slurm reports at start).
std::vector<std::string> PlacedNodes(const LaunchRequest& req) {
  std::vector<std::string> out;
  for (const NodeShare& n : req.nodes) out.push_back(n.node);
  if (req.nodes.size() == 1) out.insert(out.end(), req.any_of.begin(), req.any_of.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::string UnhealthyReason(const Status& st) {
  if (st.code() == Code::kUnavailable && st.message().find(": HTTP ") != std::string::npos) {
    return "slurmctld: not answering slurmrestd (" + st.message() + ")";
  }
  if (st.code() == Code::kUnavailable && st.message().find("no answer within") != std::string::npos)
    return "slurmctld: slurmrestd took the request but did not answer in time, waiting on slurmctld (" + st.message() + ")";
  if (st.code() == Code::kUnavailable) return "slurmrestd: unreachable (" + st.message() + ")";
  return "slurmrestd: " + st.message();
}

std::string Handle(int64_t id, const std::string& name, int attempt, const std::string& cluster) {
  json h{{"name", name}, {"attempt", attempt}};
  if (id > 0) {
    h["slurm_job_id"] = id;
    h["site_job"] = {{"kind", "slurm"}, {"id", std::to_string(id)}};
    if (!cluster.empty()) h["site_job"]["cluster"] = cluster;
  }
  return h.dump();
}

SiteEvent MakeEvent(SiteEvent::Kind kind, int64_t job_id, int attempt, std::string reason) {
  SiteEvent e;
  e.kind = kind;
  e.job_id = job_id;
  e.attempt = attempt;
  e.reason = std::move(reason);
  return e;
}

SlurmBackend::SlurmBackend(std::string name, SlurmOptions o, const std::string& data_dir)
    : name_(std::move(name)), opts_(std::move(o)),
      out_dir_(opts_.output_dir.empty() ? data_dir + "/slurm" : opts_.output_dir),
      cache_path_(data_dir + "/sites/" + name_ + ".json"), client_(ClientConfig()) {
  for (const auto& [gres, accel] : opts_.gres_map) gres_of_accel_[accel] = gres;
  for (int i = 0; i < std::max(1, opts_.submit_connections); ++i) {
    submitters_.push_back(std::make_unique<SlurmClient>(ClientConfig()));
    free_.push_back(submitters_.back().get());
  }
  inventory_ = LoadCache();
  inventory_.read = false;
  inventory_.healthy = false;
  inventory_.reason = "slurmrestd: not read yet";
  refresher_ = std::thread([this] { Refresher(); });
}

SlurmBackend::~SlurmBackend() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

Capabilities SlurmBackend::capabilities() const {
  Capabilities c;
  c.starts_at_launch = false;
  c.can_withdraw = true;
  c.dynamic_inventory = true;
  c.launch_concurrency = static_cast<int>(submitters_.size());
  c.chooses_node = true;
  return c;
}

SlurmConfig SlurmBackend::ClientConfig() const {
  SlurmConfig sc;
  sc.url = opts_.url;
  sc.ca_file = opts_.ca_file;
  sc.user = opts_.user;
  sc.jwt_key_file = opts_.jwt_key_file;
  sc.token = opts_.token;
  sc.timeout_s = opts_.timeout_s;
  return sc;
}

std::string SlurmBackend::RunDir(int64_t job, int attempt) const {
  return out_dir_ + "/" + std::to_string(job) + "/" + std::to_string(attempt);
}

void SlurmBackend::SaveCache(const SiteInventory& inv) const {
  json nodes = json::array();
  for (const auto& n : inv.nodes) {
    nodes.push_back({{"name", n.name}, {"accelerator", n.accelerator}, {"accelerators", n.accelerators},
                     {"cpus", n.cpus}, {"memory_gib", n.memory_gib}, {"cpu_jobs", n.cpu_jobs}});
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cache_path_).parent_path(), ec);
  std::string tmp = cache_path_ + ".tmp";
  std::ofstream(tmp) << json{{"nodes", nodes}, {"saved", WallNow()}}.dump();
  std::filesystem::rename(tmp, cache_path_, ec);
}

// The cached nodes, all unusable (Slurm has not confirmed them).
SiteInventory SlurmBackend::LoadCache() const {
  SiteInventory inv;
  auto text = ReadWholeFile(cache_path_);
  if (!text.ok()) return inv;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return inv;
  for (const auto& n : j.value("nodes", json::array())) {
    inv.nodes.push_back({n.value("name", ""), n.value("accelerator", ""), n.value("accelerators", 0),
                         n.value("cpus", 0), n.value("memory_gib", 0.0), false, "site unreachable",
                         n.value("cpu_jobs", false)});
  }
  return inv;
}

SiteInventory SlurmBackend::Inventory() {
  std::lock_guard<std::mutex> l(mu_);
  return inventory_;
}

std::vector<SiteEvent> SlurmBackend::Poll(double) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SiteEvent> out;
  out.swap(events_);
  return out;
}

std::string SlurmBackend::LogPath(int64_t job_id, int attempt, std::string_view stream) const {
  return RunDir(job_id, attempt) + (stream == "stderr" ? "/stderr.log" : "/stdout.log");
}

// One submit on a free connection of the pool.
Result<int64_t> SlurmBackend::Submit(const SlurmJobSpec& spec) {
  SlurmClient* c;
  {
    std::unique_lock<std::mutex> pl(pool_mu_);
    pool_cv_.wait(pl, [&] { return !free_.empty(); });
    c = free_.back();
    free_.pop_back();
  }
  auto id = c->Submit(spec);
  {
    std::lock_guard<std::mutex> pl(pool_mu_);
    free_.push_back(c);
  }
  pool_cv_.notify_one();
  return id;
}

Result<LaunchResult> SlurmBackend::Launch(const LaunchRequest& req) {
  BatchSettings bs{opts_.partition, opts_.account, opts_.qos, opts_.reservation, "", RunDir(req.job_id, req.attempt)};
  if (req.accelerators_per_worker > 0) {
    auto g = gres_of_accel_.find(req.accelerator);
    if (g == gres_of_accel_.end()) return FailedPrecondition("no GRES name maps to '" + req.accelerator + "' (gres_map)");
    bs.gres = g->second;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const SiteNode& n : inventory_.nodes) bs.site_nodes.push_back(n.name);
  }
  CNET_ASSIGN_OR_RETURN(SlurmJobSpec spec, MakeJobSpec(req, bs));
  std::error_code ec;
  std::filesystem::create_directories(bs.run_dir, ec);
  if (ec) return FailedPrecondition("output_dir: cannot create " + bs.run_dir + ": " + ec.message());
  {
    std::lock_guard<std::mutex> l(mu_);
    // Slurm just failed to answer: do not wait out another timeout for each job of this cycle.
    if (MonotonicSeconds() < fail_fast_until_) {
      return Status(Code::kUnavailable, "not submitted: " + name_ + " did not answer a moment ago (" + inventory_.reason + ")");
    }
  }
  auto id = Submit(spec);
  LaunchResult r;
  std::lock_guard<std::mutex> l(mu_);
  if (!id.ok() && id.status().code() == Code::kUnavailable) {
    // Perhaps submitted, perhaps not: track it by name. The next poll that reaches Slurm finds
    // it, or fences the attempt off and asks for it to be dispatched again.
    fail_fast_until_ = MonotonicSeconds() + 2;
    tracked_[req.job_id] = Run{0, spec.name, req.attempt, false, false, "", 0, "", MonotonicSeconds(), PlacedNodes(req)};
    // Suspect at once, not at the next inventory read: the service stops dispatching here and
    // counts the outage (redispatch_unconfirmed_after_s) from now. A read that succeeds clears it.
    inventory_.healthy = false;
    inventory_.reason = UnhealthyReason(id.status()) + "; a submit got no answer";
    poll_now_ = true;
    wake_.notify_all();
    r.handle = Handle(0, spec.name, req.attempt);
    r.note = "unconfirmed: " + id.status().message() + "; looked up by name when Slurm answers";
    r.unconfirmed = true;
    return r;
  }
  if (!id.ok()) return id.status();
  tracked_[req.job_id] = Run{*id, spec.name, req.attempt, false, false, "", 0, "", MonotonicSeconds(), PlacedNodes(req)};
  r.handle = Handle(*id, spec.name, req.attempt, cluster_);
  r.note = "submitted to " + name_ + " as Slurm job " + std::to_string(*id);
  return r;
}

// Queues the cancel; the refresher delivers it (or, while Slurm is unreachable, fences off a run
// that has not started and reports it killed).
Status SlurmBackend::Kill(int64_t job_id, const std::string& reason) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tracked_.find(job_id);
    if (it == tracked_.end()) return NotFound("job " + std::to_string(job_id) + " is not on " + name_);
    it->second.cancel = true;
    it->second.killed = true;
    it->second.kill_reason = reason;
    poll_now_ = true;
  }
  wake_.notify_all();
  return Status::Ok();
}

// Its state comes with the next poll: running, ended (Slurm or its exit file says so), or fenced
// off and requeued if Slurm lost it before it started.
Result<AdoptOutcome> SlurmBackend::Adopt(int64_t job_id, int attempt, const std::string& handle) {
  json h = json::parse(handle, nullptr, false);
  if (!h.is_object() || !h.contains("name") || !h["name"].is_string()) {
    return InvalidArgument("adopt: job " + std::to_string(job_id) + ": not a Slurm handle: " + handle);
  }
  Run run{h.value("slurm_job_id", int64_t{0}), h.value("name", ""), h.value("attempt", attempt), false, false, "", 0, "",
          MonotonicSeconds()};
  if (run.attempt != attempt || run.name != JobName(job_id, attempt)) {
    return InvalidArgument("adopt: job " + std::to_string(job_id) + ": the handle names '" + run.name + "'");
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    tracked_[job_id] = run;
    poll_now_ = true;
  }
  wake_.notify_all();
  return AdoptOutcome::kAdopted;
}

Interrupted SlurmBackend::FindInterrupted(int64_t job_id, int attempt) {
  const std::string name = JobName(job_id, attempt);
  auto jobs = client_.Jobs();
  if (!jobs.ok()) return {Interrupted::kUnknown, ""};
  int64_t newest = 0;
  for (const auto& j : *jobs) {
    if (j.name == name) newest = std::max(newest, j.job_id);
  }
  if (newest > 0) return {Interrupted::kFound, Handle(newest, name, attempt)};
  // Never submitted, lost before it started, or withdrawn: its command never ran.
  if (Fence(job_id, attempt) || FencedByUs(job_id, attempt)) return {Interrupted::kNeverStarted, ""};
  return {Interrupted::kFound, Handle(0, name, attempt)};  // it ran and Slurm forgot it: its exit file tells
}

std::unique_ptr<SiteBackend> NewSlurmBackend(std::string name, SlurmOptions opts, std::string data_dir) {
  return std::make_unique<SlurmBackend>(std::move(name), std::move(opts), data_dir);
}

Result<std::unique_ptr<SiteBackend>> MakeSlurmBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env) {
  ConfigBlock b(block, env);
  CNET_RETURN_IF_ERROR(b.OnlyKeys({"url", "ca_file", "user", "jwt_key_file", "token", "partition", "account", "qos",
                                   "reservation", "gres_map", "poll_interval_s", "submit_connections",
                                   "inventory_interval_s", "output_dir", "cpu_jobs_on_accelerator_nodes",
                                   "lost_end_cancel_s"}));
  SlurmOptions o;
  CNET_RETURN_IF_ERROR(b.String("url", &o.url));
  if (o.url.empty()) return b.Error("url", "required (slurmrestd, e.g. http://127.0.0.1:6820)");
  if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0) return b.Error("url", "must start with http:// or https://");
  CNET_RETURN_IF_ERROR(b.String("ca_file", &o.ca_file));
  if (!o.ca_file.empty() && o.url.rfind("https://", 0) != 0) return b.Error("ca_file", "only for an https:// url");
  CNET_RETURN_IF_ERROR(b.String("user", &o.user));
  CNET_RETURN_IF_ERROR(b.String("jwt_key_file", &o.jwt_key_file));
  CNET_RETURN_IF_ERROR(b.String("token", &o.token));
  if (o.jwt_key_file.empty() == o.token.empty()) return b.Error("jwt_key_file", "give exactly one of jwt_key_file or token");
  CNET_RETURN_IF_ERROR(b.String("partition", &o.partition));
  CNET_RETURN_IF_ERROR(b.String("account", &o.account));
  CNET_RETURN_IF_ERROR(b.String("qos", &o.qos));
  CNET_RETURN_IF_ERROR(b.String("reservation", &o.reservation));
  CNET_RETURN_IF_ERROR(b.StringMap("gres_map", &o.gres_map));
  CNET_RETURN_IF_ERROR(b.Double("poll_interval_s", 0.05, 600, &o.poll_interval_s));
  CNET_RETURN_IF_ERROR(b.Int("submit_connections", 1, 64, &o.submit_connections));
  CNET_RETURN_IF_ERROR(b.Double("inventory_interval_s", 0.1, 3600, &o.inventory_interval_s));
  CNET_RETURN_IF_ERROR(b.String("output_dir", &o.output_dir));
  CNET_RETURN_IF_ERROR(b.Bool("cpu_jobs_on_accelerator_nodes", &o.cpu_jobs_on_accelerator_nodes));
  CNET_RETURN_IF_ERROR(b.Double("lost_end_cancel_s", 1, 3600, &o.lost_end_cancel_s));
  return NewSlurmBackend(name, std::move(o), env.data_dir);
}

}  // namespace cnet::backends::slurm
