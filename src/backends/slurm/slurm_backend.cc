#include "backends/slurm/slurm_backend.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/config_block.h"
#include "backends/slurm/batch_script.h"
#include "backends/slurm/slurm_client.h"
#include "common/clock.h"
#include "common/csv.h"

namespace cnet::backends::slurm {
namespace {

using nlohmann::json;

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// Why the site is unhealthy, naming what failed: a refused or broken connection means slurmrestd
// itself is down; an HTTP answer carrying a communication error means slurmctld did not answer it;
// a connection slurmrestd accepted but never answered means it is stuck waiting on slurmctld.
std::string UnhealthyReason(const Status& st) {
  if (st.code() == Code::kUnavailable && st.message().find(": HTTP ") != std::string::npos) {
    return "slurmctld: not answering slurmrestd (" + st.message() + ")";
  }
  if (st.code() == Code::kUnavailable && st.message().find("no answer within") != std::string::npos)
    return "slurmctld: slurmrestd took the request but did not answer in time, waiting on slurmctld (" + st.message() + ")";
  if (st.code() == Code::kUnavailable) return "slurmrestd: unreachable (" + st.message() + ")";
  return "slurmrestd: " + st.message();
}

// The request's node names, sorted (compared with the nodes Slurm reports at start).
std::vector<std::string> PlacedNodes(const LaunchRequest& req) {
  std::vector<std::string> out;
  for (const NodeShare& n : req.nodes) out.push_back(n.node);
  std::sort(out.begin(), out.end());
  return out;
}

// The run's handle. "site_job" is the backend-neutral part the API shows as the job's site_job
// (Slurm's job id and ClusterName, once known).
std::string Handle(int64_t id, const std::string& name, int attempt, const std::string& cluster = "") {
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

// Slurm's jobs by id and by name (the newest of each name).
struct JobIndex {
  std::map<int64_t, const SlurmJob*> by_id;
  std::map<std::string, const SlurmJob*> by_name;

  explicit JobIndex(const std::vector<SlurmJob>& jobs) {
    for (const auto& j : jobs) {
      by_id[j.job_id] = &j;
      auto& n = by_name[j.name];
      if (!n || n->job_id < j.job_id) n = &j;
    }
  }
  // After losing its state Slurm reuses ids: an id only counts if the name matches too.
  const SlurmJob* Find(int64_t id, const std::string& name) const {
    if (id > 0) {
      auto f = by_id.find(id);
      return f == by_id.end() || f->second->name != name ? nullptr : f->second;
    }
    auto f = by_name.find(name);
    return f == by_name.end() ? nullptr : f->second;
  }
};

SiteEvent EndedFromSlurm(int64_t job_id, int attempt, const SlurmJob& j) {
  SiteEvent e = MakeEvent(SiteEvent::kEnded, job_id, attempt, "");
  e.success = j.state == "COMPLETED" && j.exit_code == 0;
  e.exit_code = j.exit_code;
  e.killed = j.state == "CANCELLED";
  e.timed_out = j.state == "TIMEOUT";
  e.oom_killed = j.state == "OUT_OF_MEMORY";
  const bool has_reason = !j.reason.empty() && j.reason != "None";
  e.reason = j.state == "COMPLETED" ? "exit code " + std::to_string(j.exit_code)
             : j.state == "TIMEOUT" ? "time limit exceeded (Slurm TIMEOUT)"
                                    : "Slurm " + j.state + (has_reason ? " (" + j.reason + ")" : "") +
                                          ", exit code " + std::to_string(j.exit_code);
  e.fields["slurm_job_id"] = std::to_string(j.job_id);
  return e;
}

class SlurmBackend final : public SiteBackend {
 public:
  SlurmBackend(std::string name, SlurmOptions o, const std::string& data_dir);
  ~SlurmBackend() override;

  const std::string& name() const override { return name_; }
  std::string_view type() const override { return "slurm"; }
  Capabilities capabilities() const override;
  SiteInventory Inventory() override;
  Result<LaunchResult> Launch(const LaunchRequest& req) override;
  std::vector<SiteEvent> Poll(double now) override;
  Status Kill(int64_t job_id, const std::string& reason) override;
  Result<WithdrawOutcome> Withdraw(int64_t job_id, int attempt) override;
  Result<AdoptOutcome> Adopt(int64_t job_id, int attempt, const std::string& handle) override;
  Interrupted FindInterrupted(int64_t job_id, int attempt) override;
  std::string LogPath(int64_t job_id, int attempt, std::string_view stream) const override;

 private:
  struct Run {
    int64_t slurm_id = 0;      // 0: not known yet (found by name)
    std::string name;          // cnet-<job>-<attempt>
    int attempt = 1;
    bool started = false;
    bool cancel = false;       // Kill asked and Slurm not yet told; the refresher cancels it there
    std::string kill_reason;
    double unknown_since = 0;  // Slurm stopped knowing it (it started): when we first noticed
    std::string note;          // the last waiting reason reported
    double since = 0;          // MonotonicSeconds when tracking began
    std::vector<std::string> placed;  // the nodes the service placed it on (sorted); empty after a restart
    // Kill asked (stays set once the cancel is delivered): a failed end is then reported killed,
    // from whichever source (the job read or the exit file the killed script wrote) comes first.
    bool killed = false;
  };
  // The refresher's verdict on one run, made without the lock and applied under it.
  struct Decision {
    int64_t job_id = 0;
    std::string name;
    bool erase = false;
    bool cancel_delivered = false;
    Run run;                   // the updated run, unless erased
    std::vector<SiteEvent> events;
  };
  using Cancel = std::pair<int64_t, std::string>;  // a withdrawn attempt to cancel: id or name

  // A started job Slurm no longer knows and that wrote no exit code is lost after this long.
  static constexpr double kLostAfterS = 60;
  // After an outage exit files are checked for this long (nodes re-register late).
  static constexpr double kRecoveryWindowS = 600;
  // Between job reads, started runs' exit files are looked at this often, so a completion is
  // noticed within this, not at the next poll: one small file read per running job, at most
  // kExitChecksPerS reads a second (with more running jobs the interval grows).
  static constexpr double kExitCheckS = 0.1;
  static constexpr double kExitChecksPerS = 2000;

  SlurmConfig ClientConfig() const;
  std::string RunDir(int64_t job, int attempt) const;
  std::optional<int64_t> RecordedExit(int64_t job, int attempt) const;
  bool Fence(int64_t job, int attempt) const;
  // Whether a Fence of ours (not the batch script) claimed the attempt.
  bool FencedByUs(int64_t job, int attempt) const;
  static constexpr const char* kFencedByUs = "withdrawn";
  void SaveCache(const SiteInventory& inv) const;
  SiteInventory LoadCache() const;
  Result<int64_t> Submit(const SlurmJobSpec& spec);

  void Refresher();
  void FetchInventory();
  void PollJobs();
  size_t CheckExitFiles();  // returns how many files it looked at
  void WithdrawKilledWhileUnreachable(const std::map<int64_t, Run>& runs);
  std::vector<Cancel> DeliverWithdrawnCancels(std::vector<Cancel> pending, const JobIndex& idx);
  Decision Decide(int64_t job_id, Run run, const JobIndex& idx, double fetched, double now, bool recovering);
  bool DecideGone(Decision& d, double fetched, double now);
  void Apply(std::vector<Decision> decisions);

  const std::string name_;
  const SlurmOptions opts_;
  const std::string out_dir_, cache_path_;
  std::map<std::string, std::string> gres_of_accel_;
  SlurmClient client_;  // the refresher's and FindInterrupted's (serialised inside)
  // Submissions: one connection each, so several may wait on slurmctld at once.
  std::vector<std::unique_ptr<SlurmClient>> submitters_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<SlurmClient*> free_;  // guarded by pool_mu_

  // mu_ guards what follows; it is never held across network I/O or file writes.
  mutable std::mutex mu_;
  std::map<int64_t, Run> tracked_;  // computenet job -> Slurm job
  std::vector<Cancel> to_cancel_;   // withdrawn attempts to cancel when Slurm answers
  std::vector<SiteEvent> events_;   // reported by the next Poll
  SiteInventory inventory_;         // the last one read (or the cache, marked unusable)
  double fail_fast_until_ = 0;      // MonotonicSeconds: Launch refuses at once until then
  bool poll_failed_ = false;        // the last job read could not reach Slurm
  std::string cluster_;             // Slurm's ClusterName, as its jobs report it ("" until seen)
  double recovering_until_ = 0;
  bool poll_now_ = false;           // Kill asked for a prompt refresh
  bool stop_ = false;
  std::condition_variable wake_;
  std::thread refresher_;           // last: started once the rest exists
};

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

// The exit code the batch script wrote to the attempt's run directory, if it got that far.
std::optional<int64_t> SlurmBackend::RecordedExit(int64_t job, int attempt) const {
  auto text = ReadWholeFile(RunDir(job, attempt) + "/exit");
  return text.ok() ? ParseInt(Trim(*text)) : std::nullopt;
}

// Claims the attempt's run directory, as its batch script does first: true if we got it first,
// so its command will never run.
bool SlurmBackend::Fence(int64_t job, int attempt) const {
  std::string dir = RunDir(job, attempt);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  if (::mkdir((dir + "/claim").c_str(), 0755) != 0) return false;
  std::ofstream(dir + "/claim/" + kFencedByUs) << "withdrawn by computenet\n";  // the script never writes it
  return true;
}

bool SlurmBackend::FencedByUs(int64_t job, int attempt) const {
  std::error_code ec;
  return std::filesystem::exists(RunDir(job, attempt) + "/claim/" + kFencedByUs, ec);
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

Result<WithdrawOutcome> SlurmBackend::Withdraw(int64_t job_id, int attempt) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tracked_.find(job_id);
    if (it != tracked_.end() && it->second.attempt == attempt && it->second.started) return WithdrawOutcome::kMayRun;
  }
  if (!Fence(job_id, attempt)) return WithdrawOutcome::kMayRun;
  std::lock_guard<std::mutex> l(mu_);
  auto it = tracked_.find(job_id);
  if (it != tracked_.end() && it->second.attempt == attempt) {
    to_cancel_.emplace_back(it->second.slurm_id, it->second.name);
    tracked_.erase(it);
  } else {
    to_cancel_.emplace_back(0, JobName(job_id, attempt));
  }
  return WithdrawOutcome::kWithdrawn;
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

// ---- the refresher thread

void SlurmBackend::Refresher() {
  double next_inventory = 0, next_poll = 0, next_exit_check = 0;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    double now = MonotonicSeconds();
    if (now >= next_exit_check) {
      l.unlock();
      const size_t looked = CheckExitFiles();
      l.lock();
      next_exit_check = MonotonicSeconds() + std::max(kExitCheckS, static_cast<double>(looked) / kExitChecksPerS);
    }
    if (now >= next_inventory) {
      l.unlock();
      FetchInventory();
      l.lock();
      next_inventory = MonotonicSeconds() + opts_.inventory_interval_s;
    }
    if (now >= next_poll || poll_now_) {
      poll_now_ = false;
      l.unlock();
      PollJobs();
      l.lock();
      next_poll = MonotonicSeconds() + opts_.poll_interval_s;
    }
    double wait = std::min({next_inventory, next_poll, next_exit_check}) - MonotonicSeconds();
    if (wait > 0) wake_.wait_for(l, std::chrono::duration<double>(wait), [&] { return stop_ || poll_now_; });
  }
}

// Reads the nodes (network, no lock), saves the cache (file, no lock), then publishes.
void SlurmBackend::FetchInventory() {
  auto nodes = client_.Nodes();
  if (!nodes.ok()) {
    SiteInventory inv = LoadCache();
    inv.healthy = false;
    inv.reason = UnhealthyReason(nodes.status());
    std::lock_guard<std::mutex> l(mu_);
    poll_failed_ = true;
    inventory_ = std::move(inv);
    return;
  }
  SiteInventory inv;
  for (const SlurmNode& n : *nodes) {
    const auto& parts = n.partitions;
    if (!opts_.partition.empty() && std::find(parts.begin(), parts.end(), opts_.partition) == parts.end()) continue;
    SiteNode sn;
    sn.name = n.name;
    sn.cpus = n.cpus;
    sn.memory_gib = static_cast<double>(n.real_memory_mb) / 1024;
    sn.usable = n.Usable();
    sn.reason = n.Usable() ? "" : n.reason.empty() ? "state " + Join(n.state) : n.reason;
    for (const auto& [gres, count] : n.gres) {
      auto it = opts_.gres_map.find(gres);
      if (it != opts_.gres_map.end() && count > 0) {
        sn.accelerator = it->second;
        sn.accelerators = count;
        sn.cpu_jobs = opts_.cpu_jobs_on_accelerator_nodes && sn.cpus > 0;
      }
    }
    inv.nodes.push_back(std::move(sn));
  }
  SaveCache(inv);
  std::lock_guard<std::mutex> l(mu_);
  fail_fast_until_ = 0;
  inventory_ = std::move(inv);
}

// A started run whose batch script has written its exit code has ended: reported now (Slurm may
// still list it RUNNING or COMPLETING for a moment; it is no longer tracked). A run Kill asked to
// stop is reported killed unless it succeeded (Apply decides that under the lock, so a Kill that
// comes after this snapshot counts too).
size_t SlurmBackend::CheckExitFiles() {
  std::vector<std::pair<int64_t, Run>> runs;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, run] : tracked_)
      if (run.started) runs.emplace_back(id, run);
  }
  bool outage;
  {
    std::lock_guard<std::mutex> l(mu_);
    outage = poll_failed_ || MonotonicSeconds() < recovering_until_;
  }
  std::vector<Decision> ds;
  for (const auto& [id, run] : runs) {
    std::optional<int64_t> rc = RecordedExit(id, run.attempt);
    if (!rc) continue;
    // An end Slurm may have missed (its controller down or just back): Slurm would requeue the
    // job when the node re-registers and hold it PENDING (BeginTime) for minutes; cancel it
    // there once Slurm answers (its fence keeps it from running the command again).
    if (outage) {
      std::lock_guard<std::mutex> l(mu_);
      to_cancel_.emplace_back(run.slurm_id, run.name);
    }
    Decision d;
    d.job_id = id;
    d.name = run.name;
    d.erase = true;
    SiteEvent e = MakeEvent(SiteEvent::kEnded, id, run.attempt, "exit code " + std::to_string(*rc));
    e.success = *rc == 0;
    e.exit_code = static_cast<int>(*rc);
    if (run.slurm_id > 0) e.fields["slurm_job_id"] = std::to_string(run.slurm_id);
    d.events.push_back(std::move(e));
    ds.push_back(std::move(d));
  }
  Apply(std::move(ds));
  return runs.size();
}

// Slurm unreachable: a run Kill asked to stop that has not started is fenced off and ends now;
// its Slurm job is cancelled once Slurm answers.
void SlurmBackend::WithdrawKilledWhileUnreachable(const std::map<int64_t, Run>& runs) {
  std::vector<Decision> ds;
  for (const auto& [id, run] : runs) {
    if (!run.cancel || run.started || !Fence(id, run.attempt)) continue;
    Decision d;
    d.job_id = id;
    d.name = run.name;
    d.erase = true;
    SiteEvent e = MakeEvent(SiteEvent::kEnded, id, run.attempt,
                            "withdrawn before it started (" + run.kill_reason + "; " + name_ + " unreachable)");
    e.killed = true;
    d.events.push_back(std::move(e));
    ds.push_back(std::move(d));
    std::lock_guard<std::mutex> l(mu_);
    to_cancel_.emplace_back(run.slurm_id, run.name);
  }
  Apply(std::move(ds));
}

// Cancels withdrawn attempts that Slurm still runs or queues (their script would not run the
// command anyway); returns those Slurm could not be asked about.
std::vector<SlurmBackend::Cancel> SlurmBackend::DeliverWithdrawnCancels(std::vector<Cancel> pending,
                                                                          const JobIndex& idx) {
  std::vector<Cancel> left;
  for (const Cancel& c : pending) {
    const SlurmJob* j = idx.Find(c.first, c.second);
    if (j && !j->Terminal() && client_.Cancel(j->job_id).code() == Code::kUnavailable) left.push_back(c);
  }
  return left;
}

void SlurmBackend::PollJobs() {
  std::map<int64_t, Run> runs;
  std::vector<Cancel> pending;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (tracked_.empty() && to_cancel_.empty()) return;
    runs = tracked_;
    pending.swap(to_cancel_);
  }
  const double fetched = MonotonicSeconds();  // runs tracked since then may be missing from the answer
  auto jobs = client_.Jobs();
  const double now = MonotonicSeconds();
  if (!jobs.ok()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      poll_failed_ = true;
      inventory_.healthy = false;
      inventory_.reason = UnhealthyReason(jobs.status());
      to_cancel_.insert(to_cancel_.end(), pending.begin(), pending.end());
    }
    WithdrawKilledWhileUnreachable(runs);  // nothing else is decided while Slurm cannot be asked
    return;
  }
  bool recovering;
  {
    std::lock_guard<std::mutex> l(mu_);
    // After an outage Slurm learns of jobs that ended meanwhile only when their nodes re-register
    // (a minute or more): until then a job's own exit file is the fresher word.
    if (poll_failed_) recovering_until_ = now + kRecoveryWindowS;
    for (const SlurmJob& j : *jobs)
      if (!j.cluster.empty()) cluster_ = j.cluster;
    poll_failed_ = false;
    recovering = now < recovering_until_;
  }
  const JobIndex idx(*jobs);
  std::vector<Cancel> left = DeliverWithdrawnCancels(std::move(pending), idx);
  std::vector<Decision> ds;
  for (auto& [id, run] : runs) ds.push_back(Decide(id, run, idx, fetched, now, recovering));
  {
    std::lock_guard<std::mutex> l(mu_);
    to_cancel_.insert(to_cancel_.end(), left.begin(), left.end());
  }
  Apply(std::move(ds));
}

// A run Slurm does not list: ended (exit file), lost before it started (fenced: requeue), or
// started and gone without a trace (lost after kLostAfterS). False: keep waiting.
bool SlurmBackend::DecideGone(Decision& d, double fetched, double now) {
  Run& run = d.run;
  if (run.since >= fetched) return false;  // submitted (or adopted) after the question was asked
  std::string which = run.slurm_id > 0 ? "job " + std::to_string(run.slurm_id) : "a job named " + run.name;
  if (std::optional<int64_t> rc = RecordedExit(d.job_id, run.attempt)) {
    SiteEvent e = MakeEvent(SiteEvent::kEnded, d.job_id, run.attempt,
                            "exit code " + std::to_string(*rc) + " (from its run directory; Slurm no longer knows " + which + ")");
    e.success = *rc == 0;
    e.exit_code = static_cast<int>(*rc);
    d.events.push_back(std::move(e));
  } else if (Fence(d.job_id, run.attempt)) {
    SiteEvent e = MakeEvent(run.killed ? SiteEvent::kEnded : SiteEvent::kRequeue, d.job_id, run.attempt,
                            "Slurm lost " + which + " before it started (slurmctld restarted without it?)");
    e.killed = run.killed;
    d.events.push_back(std::move(e));
  } else if (run.unknown_since <= 0 || now - run.unknown_since < kLostAfterS) {
    if (run.unknown_since <= 0) run.unknown_since = now;  // it may still be about to write its exit code
    return false;
  } else {
    SiteEvent e = MakeEvent(SiteEvent::kEnded, d.job_id, run.attempt,
                            "lost: Slurm no longer knows " + which + ", which started and left no exit status within " +
                                std::to_string(static_cast<int>(kLostAfterS)) + " s");
    e.exit_code = 1;
    d.events.push_back(std::move(e));
  }
  d.erase = true;
  return true;
}

SlurmBackend::Decision SlurmBackend::Decide(int64_t job_id, Run run, const JobIndex& idx, double fetched, double now,
                                            bool recovering) {
  Decision d;
  d.job_id = job_id;
  d.name = run.name;
  d.run = std::move(run);
  Run& r = d.run;
  const SlurmJob* j = idx.Find(r.slurm_id, r.name);
  if (!j) {
    DecideGone(d, fetched, now);
    return d;
  }
  r.slurm_id = j->job_id;
  r.unknown_since = 0;
  if (r.cancel && (j->Terminal() || client_.Cancel(j->job_id).code() != Code::kUnavailable)) d.cancel_delivered = true;
  if (!r.started && j->state == "PENDING") {
    const bool has_reason = !j->reason.empty() && j->reason != "None";
    std::string note = "Slurm job " + std::to_string(j->job_id) + " PENDING" + (has_reason ? " (" + j->reason + ")" : "");
    if (note != r.note) {
      r.note = note;
      d.events.push_back(MakeEvent(SiteEvent::kNote, job_id, r.attempt, note));
    }
  }
  if (!r.started && (j->state == "RUNNING" || j->Terminal())) {
    r.started = true;
    std::vector<std::string> ran = j->nodes;
    std::sort(ran.begin(), ran.end());
    // exclude_nodes cannot name a node added to Slurm since the last inventory read: say so.
    const std::string differs = !r.placed.empty() && ran != r.placed ? "; not the placed " + Join(r.placed) : "";
    SiteEvent e = MakeEvent(SiteEvent::kStarted, job_id, r.attempt,
                            "running on " + name_ + " as Slurm job " + std::to_string(j->job_id) + " (" + Join(j->nodes) +
                                differs + ")");
    e.handle = Handle(j->job_id, r.name, r.attempt, j->cluster);
    e.fields = {{"slurm_job_id", std::to_string(j->job_id)}, {"slurm_cluster", j->cluster}, {"nodes", Join(j->nodes)}};
    d.events.push_back(std::move(e));
  }
  if (recovering && r.started && !j->Terminal()) {
    if (std::optional<int64_t> rc = RecordedExit(job_id, r.attempt)) {
      SiteEvent e = MakeEvent(SiteEvent::kEnded, job_id, r.attempt,
                              "exit code " + std::to_string(*rc) + " (from its run directory; Slurm still reports " +
                                  j->state + " after its outage)");
      e.success = *rc == 0;
      e.exit_code = static_cast<int>(*rc);
      d.events.push_back(std::move(e));
      d.erase = true;
      return d;
    }
  }
  if (j->Terminal()) {
    d.events.push_back(EndedFromSlurm(job_id, r.attempt, *j));
    d.erase = true;
  }
  return d;
}

// Applies the refresher's decisions to runs that are still the same (not withdrawn, re-launched
// or re-adopted meanwhile); keeps a cancel Kill asked for after the snapshot. A failed end of a
// run Kill asked to stop is a kill, whatever saw it (Slurm's state, or the exit code the killed
// script wrote, 143 for SIGTERM): decided here, on the current run, not on the snapshot.
void SlurmBackend::Apply(std::vector<Decision> decisions) {
  std::lock_guard<std::mutex> l(mu_);
  for (Decision& d : decisions) {
    auto it = tracked_.find(d.job_id);
    if (it == tracked_.end() || it->second.name != d.name) continue;
    for (SiteEvent& e : d.events) {
      if (e.kind == SiteEvent::kEnded && !e.success && !e.killed && it->second.killed) {
        e.killed = true;
        if (!it->second.kill_reason.empty()) e.reason = it->second.kill_reason + " (" + e.reason + ")";
      }
      events_.push_back(std::move(e));
    }
    if (d.erase) {
      tracked_.erase(it);
      continue;
    }
    const bool cancel = it->second.cancel && !d.cancel_delivered;
    const bool killed = it->second.killed;
    const std::string reason = it->second.kill_reason;
    it->second = std::move(d.run);
    it->second.cancel = cancel;
    it->second.killed = killed;
    it->second.kill_reason = reason;
  }
}

}  // namespace

std::unique_ptr<SiteBackend> NewSlurmBackend(std::string name, SlurmOptions opts, std::string data_dir) {
  return std::make_unique<SlurmBackend>(std::move(name), std::move(opts), data_dir);
}

Result<std::unique_ptr<SiteBackend>> MakeSlurmBackend(const std::string& name, const YAML::Node& block,
                                                      const BackendEnv& env) {
  ConfigBlock b(block, env);
  CNET_RETURN_IF_ERROR(b.OnlyKeys({"url", "ca_file", "user", "jwt_key_file", "token", "partition", "account", "qos",
                                   "reservation", "gres_map", "poll_interval_s", "submit_connections",
                                   "inventory_interval_s", "output_dir", "cpu_jobs_on_accelerator_nodes"}));
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
  return NewSlurmBackend(name, std::move(o), env.data_dir);
}

}  // namespace cnet::backends::slurm
