#include "service/slurm_site.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/csv.h"
#include "sites/slurm_client.h"

namespace cnet::service {

namespace {

using nlohmann::json;

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Single-quotes a word for /bin/sh.
std::string ShQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class SlurmSite final : public Site {
 public:
  SlurmSite(const SiteConfig& cfg, const std::string& data_dir)
      : cfg_(cfg), out_dir_(cfg.output_dir.empty() ? data_dir + "/slurm" : cfg.output_dir),
        cache_path_(data_dir + "/sites/" + cfg.name + ".json"),
        client_(ClientConfig(cfg)) {
    for (const auto& [gres, accel] : cfg.gres_map) gres_of_accel_[accel] = gres;
    for (int i = 0; i < std::max(1, cfg.submit_connections); ++i) {
      submitters_.push_back(std::make_unique<sites::SlurmClient>(ClientConfig(cfg)));
      free_.push_back(submitters_.back().get());
    }
    refresher_ = std::thread([this] { Refresher(); });
  }

  ~SlurmSite() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (refresher_.joinable()) refresher_.join();
  }

  int LaunchConcurrency() const override { return static_cast<int>(submitters_.size()); }

  const std::string& name() const override { return cfg_.name; }
  std::string type() const override { return "slurm"; }

  // The nodes as last read by the refresher (read now if never read).
  SiteInventory Inventory() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (have_inventory_) return inventory_;
    }
    return FetchInventory();
  }

  // Reads the nodes from Slurm (network) and caches them.
  SiteInventory FetchInventory() {
    SiteInventory inv;
    auto nodes = client_.Nodes();
    std::lock_guard<std::mutex> l(mu_);
    if (!nodes.ok()) {
      reason_ = "slurmrestd: " + nodes.status().message();
      inv = LoadCache();
      inv.healthy = false;
      inv.reason = reason_;
      for (auto& n : inv.nodes) {
        n.usable = false;
        n.reason = "site unreachable";
      }
      poll_failed_ = true;
      inventory_ = inv;
      have_inventory_ = true;
      return inv;
    }
    reason_.clear();
    fail_fast_until_ = 0;
    for (const sites::SlurmNode& n : *nodes) {
      if (!cfg_.partition.empty() && std::find(n.partitions.begin(), n.partitions.end(), cfg_.partition) == n.partitions.end())
        continue;
      SiteNode sn;
      sn.name = n.name;
      sn.cpus = n.cpus;
      sn.memory_gib = static_cast<double>(n.real_memory_mb) / 1024;
      sn.usable = n.Usable();
      sn.reason = n.Usable() ? "" : n.reason.empty() ? "state " + Join(n.state) : n.reason;
      for (const auto& [gres, count] : n.gres) {
        auto it = cfg_.gres_map.find(gres);
        if (it != cfg_.gres_map.end() && count > 0) {
          sn.accelerator = it->second;
          sn.accelerators = count;
        }
      }
      inv.nodes.push_back(std::move(sn));
    }
    SaveCache(inv);
    inventory_ = inv;
    have_inventory_ = true;
    return inv;
  }

  Result<std::string> Launch(const SiteLaunch& l, LaunchInfo* info) override {
    info->started = false;
    const api::JobRequest& r = *l.req;
    sites::SlurmJobSpec s;
    s.name = JobName(l.job_id, l.attempt);
    s.partition = cfg_.partition;
    s.account = cfg_.account;
    s.qos = cfg_.qos;
    s.reservation = cfg_.reservation;
    s.nodes = std::max(1, l.nodes);
    s.tasks_per_node = (r.workers + s.nodes - 1) / s.nodes;
    s.cpus_per_task = std::max(1, r.cpus_per_worker);
    if (!l.accelerator.empty()) {
      auto g = gres_of_accel_.find(l.accelerator);
      if (g == gres_of_accel_.end()) return FailedPrecondition("no GRES name maps to " + l.accelerator + " (gres_map)");
      s.gres_per_node = g->second + ":" + std::to_string(r.accelerators_per_worker * s.tasks_per_node);
    }
    s.memory_per_node_mb = static_cast<int64_t>(std::ceil(r.memory_gib_per_worker * 1024 * s.tasks_per_node));
    s.time_limit_min = r.time_limit_s > 0 ? static_cast<int>(std::ceil(r.time_limit_s / 60)) : 0;
    std::string dir = RunDir(l.job_id, l.attempt);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return FailedPrecondition("output_dir: cannot create " + dir + ": " + ec.message());
    s.working_dir = r.working_dir.empty() ? dir : r.working_dir;
    s.stdout_path = dir + "/stdout.log";
    s.stderr_path = dir + "/stderr.log";
    s.env = r.env;
    if (!s.env.count("PATH")) s.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    s.env["CNET_JOB_ID"] = std::to_string(l.job_id);
    std::string argv;
    for (const auto& a : r.command) argv += " " + ShQuote(a);
    // The script first claims the run (mkdir is atomic, also on NFS): computenet claims it too when
    // it withdraws the attempt, so an attempt runs its command only if it won that race. Each task
    // is one worker (srun): its index and the gang size come from Slurm. The exit code is kept in
    // the run directory, so the outcome survives Slurm forgetting the job.
    std::string d = ShQuote(dir);
    s.script = "#!/bin/sh\n"
               "mkdir " + d + "/claim 2>/dev/null || { echo 'computenet: this attempt was withdrawn; not running it' >&2; exit 0; }\n"
               "srun --kill-on-bad-exit=1 sh -c "
               "'CNET_WORKER_INDEX=$SLURM_PROCID CNET_WORLD_SIZE=$SLURM_NTASKS; export CNET_WORKER_INDEX CNET_WORLD_SIZE; exec \"$@\"' cnet" +
               argv + "\n"
               "rc=$?\n"
               "echo $rc > " + d + "/exit.tmp && mv -f " + d + "/exit.tmp " + d + "/exit\n"
               "exit $rc\n";
    {
      std::lock_guard<std::mutex> lk(mu_);
      // Slurm just failed to answer: do not wait out another timeout for each job of this cycle.
      if (MonotonicSeconds() < fail_fast_until_)
        return Status(Code::kUnavailable, "not submitted: " + cfg_.name + " did not answer a moment ago (" + reason_ + ")");
    }
    sites::SlurmClient* c;
    {
      std::unique_lock<std::mutex> pl(pool_mu_);
      pool_cv_.wait(pl, [&] { return !free_.empty(); });
      c = free_.back();
      free_.pop_back();
    }
    auto id = c->Submit(s);
    {
      std::lock_guard<std::mutex> pl(pool_mu_);
      free_.push_back(c);
    }
    pool_cv_.notify_one();
    std::lock_guard<std::mutex> lk(mu_);
    if (!id.ok() && id.status().code() == Code::kUnavailable) {
      // Perhaps submitted, perhaps not: track it by name. The next poll that reaches Slurm finds
      // it, or fences the attempt off and asks for it to be dispatched again.
      reason_ = "slurmrestd: " + id.status().message();
      fail_fast_until_ = MonotonicSeconds() + 2;
      tracked_[l.job_id] = Run{0, s.name, l.attempt, false, false, 0, "", MonotonicSeconds()};
      info->note = "unconfirmed: " + id.status().message() + "; looked up by name when Slurm answers";
      return Handle(0, s.name, l.attempt);
    }
    if (!id.ok()) return id.status();
    tracked_[l.job_id] = Run{*id, s.name, l.attempt, false, false, 0, "", MonotonicSeconds()};
    return Handle(*id, s.name, l.attempt);
  }

  // What the refresher has seen since the last call; never waits on Slurm.
  std::vector<SiteEvent> Poll(double) override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<SiteEvent> out;
    out.swap(events_);
    return out;
  }

  // One look at Slurm's jobs (network), turned into events for Poll. Refresher thread only.
  void PollJobs() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (tracked_.empty() && to_cancel_.empty()) return;
    }
    const double fetched = MonotonicSeconds();  // runs tracked since then may be missing from the answer
    auto jobs = client_.Jobs();
    const double now = MonotonicSeconds();
    std::lock_guard<std::mutex> l(mu_);
    std::vector<SiteEvent>& out = events_;
    if (!jobs.ok()) {
      reason_ = "slurmrestd: " + jobs.status().message();
      poll_failed_ = true;
      return;  // nothing is decided about a job while Slurm cannot be asked
    }
    // After an outage Slurm learns of jobs that ended meanwhile only when their nodes re-register
    // (a minute or more): until then a job's own exit file is the fresher word.
    if (poll_failed_) recovering_until_ = now + kRecoveryWindowS;
    poll_failed_ = false;
    const bool recovering = now < recovering_until_;
    std::map<int64_t, const sites::SlurmJob*> by_id;
    std::map<std::string, const sites::SlurmJob*> by_name;  // the newest job of each name
    for (const auto& j : *jobs) {
      by_id[j.job_id] = &j;
      auto& n = by_name[j.name];
      if (!n || n->job_id < j.job_id) n = &j;
    }
    auto find = [&](int64_t id, const std::string& name) -> const sites::SlurmJob* {
      if (id > 0) {  // after losing its state Slurm reuses ids: the name must match too
        auto f = by_id.find(id);
        return f == by_id.end() || f->second->name != name ? nullptr : f->second;
      }
      auto f = by_name.find(name);
      return f == by_name.end() ? nullptr : f->second;
    };
    // Withdrawn attempts: cancel them in Slurm now that it answers (their script would not run the
    // command anyway).
    for (auto it = to_cancel_.begin(); it != to_cancel_.end();) {
      const sites::SlurmJob* j = find(it->first, it->second);
      if (j && !j->Terminal() && client_.Cancel(j->job_id).code() == Code::kUnavailable) { ++it; continue; }
      it = to_cancel_.erase(it);
    }
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      Run& run = it->second;
      const sites::SlurmJob* j = find(run.slurm_id, run.name);
      if (!j && run.since >= fetched) {  // submitted (or adopted) after the question was asked
        ++it;
        continue;
      }
      if (!j) {
        std::string which = run.slurm_id > 0 ? "job " + std::to_string(run.slurm_id) : "a job named " + run.name;
        if (std::optional<int64_t> rc = RecordedExit(it->first, run.attempt)) {
          out.push_back({SiteEvent::kEnded, it->first, *rc == 0, static_cast<int>(*rc), false,
                         "exit code " + std::to_string(*rc) + " (from its run directory; Slurm no longer knows " + which + ")", ""});
        } else if (Fence(it->first, run.attempt)) {
          out.push_back({SiteEvent::kRequeue, it->first, false, 0, false,
                         "Slurm lost " + which + " before it started (slurmctld restarted without it?)", ""});
        } else if (run.unknown_since <= 0 || now - run.unknown_since < kLostAfterS) {
          // It started, and may still be running or about to write its exit code.
          if (run.unknown_since <= 0) run.unknown_since = now;
          ++it;
          continue;
        } else {
          out.push_back({SiteEvent::kEnded, it->first, false, 1, false,
                         "lost: Slurm no longer knows " + which + ", which started and left no exit status within " +
                             std::to_string(static_cast<int>(kLostAfterS)) + " s", ""});
        }
        it = tracked_.erase(it);
        continue;
      }
      run.slurm_id = j->job_id;
      run.unknown_since = 0;
      if (run.cancel && !j->Terminal() && client_.Cancel(j->job_id).code() != Code::kUnavailable) run.cancel = false;
      if (!run.started && j->state == "PENDING") {
        std::string note = "Slurm job " + std::to_string(j->job_id) + " PENDING" +
                           (j->reason.empty() || j->reason == "None" ? "" : " (" + j->reason + ")");
        if (note != run.note) {
          run.note = note;
          out.push_back({SiteEvent::kNote, it->first, false, 0, false, note, ""});
        }
      }
      if (!run.started && (j->state == "RUNNING" || j->Terminal())) {
        run.started = true;
        out.push_back({SiteEvent::kStarted, it->first, false, 0, false,
                       "running on " + cfg_.name + " as Slurm job " + std::to_string(j->job_id) + " (" + Join(j->nodes) + ")",
                       Handle(j->job_id, run.name, run.attempt)});
      }
      if (recovering && run.started && !j->Terminal()) {
        if (std::optional<int64_t> rc = RecordedExit(it->first, run.attempt)) {
          out.push_back({SiteEvent::kEnded, it->first, *rc == 0, static_cast<int>(*rc), false,
                         "exit code " + std::to_string(*rc) + " (from its run directory; Slurm still reports " + j->state +
                             " after its outage)", ""});
          it = tracked_.erase(it);
          continue;
        }
      }
      if (j->Terminal()) {
        SiteEvent e{SiteEvent::kEnded, it->first, j->state == "COMPLETED" && j->exit_code == 0, j->exit_code,
                    j->state == "CANCELLED", "", ""};
        e.reason = j->state == "COMPLETED" ? "exit code " + std::to_string(j->exit_code)
                   : j->state == "TIMEOUT"  ? "time limit exceeded (Slurm TIMEOUT)"
                                            : "Slurm " + j->state + (j->reason.empty() || j->reason == "None" ? "" : " (" + j->reason + ")") +
                                                  ", exit code " + std::to_string(j->exit_code);
        out.push_back(std::move(e));
        it = tracked_.erase(it);
        continue;
      }
      ++it;
    }
  }

  // The refresher: nodes every inventory_interval_s, jobs every poll_interval_s, so that the
  // service's loop never waits on slurmrestd for either.
  void Refresher() {
    double next_inventory = MonotonicSeconds() + cfg_.inventory_interval_s, next_poll = 0;
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      double now = MonotonicSeconds();
      if (now >= next_inventory) {
        l.unlock();
        FetchInventory();
        l.lock();
        next_inventory = MonotonicSeconds() + cfg_.inventory_interval_s;
      }
      if (now >= next_poll) {
        l.unlock();
        PollJobs();
        l.lock();
        next_poll = MonotonicSeconds() + cfg_.poll_interval_s;
      }
      double wait = std::min(next_inventory, next_poll) - MonotonicSeconds();
      if (wait > 0) wake_.wait_for(l, std::chrono::duration<double>(wait), [&] { return stop_; });
    }
  }

  Status Kill(int64_t job_id, const std::string& reason) override {
    Run run;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = tracked_.find(job_id);
      if (it == tracked_.end()) return NotFound("job " + std::to_string(job_id) + " is not on " + cfg_.name);
      run = it->second;
      if (run.slurm_id <= 0) {  // not resolved yet: cancelled when the next poll finds it
        it->second.cancel = true;
        return Status::Ok();
      }
    }
    Status st = client_.Cancel(run.slurm_id);
    if (st.code() != Code::kUnavailable) return st;
    // Slurm cannot be reached: a run that never started is withdrawn and ends now; one that
    // started is cancelled as soon as Slurm answers again.
    std::lock_guard<std::mutex> l(mu_);
    auto it = tracked_.find(job_id);
    if (it == tracked_.end()) return Status::Ok();  // ended meanwhile
    if (!it->second.started && Fence(job_id, run.attempt)) {
      to_cancel_.emplace_back(run.slurm_id, run.name);
      events_.push_back({SiteEvent::kEnded, job_id, false, 0, true,
                         "withdrawn before it started (" + reason + "; " + cfg_.name + " unreachable)", ""});
      tracked_.erase(it);
    } else {
      it->second.cancel = true;
    }
    return Status::Ok();
  }

  bool Withdraw(int64_t job_id, int attempt) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tracked_.find(job_id);
    if (it != tracked_.end() && it->second.started) return false;
    if (!Fence(job_id, attempt)) return false;
    if (it != tracked_.end()) {
      to_cancel_.emplace_back(it->second.slurm_id, it->second.name);
      tracked_.erase(it);
    } else {
      to_cancel_.emplace_back(0, JobName(job_id, attempt));
    }
    return true;
  }

  bool Adopt(int64_t job_id, const std::string& runtime_json) override {
    json h = json::parse(runtime_json, nullptr, false);
    if (!h.is_object() || !(h.contains("slurm_job_id") || h.contains("name"))) return false;
    Run run{h.value("slurm_job_id", int64_t{0}), h.value("name", ""), h.value("attempt", 0), false, false, 0, "", MonotonicSeconds()};
    if (run.attempt <= 0) {  // handles written before attempts were recorded: cnet-<job>-<attempt>
      size_t dash = run.name.rfind('-');
      auto a = dash == std::string::npos ? std::nullopt : ParseInt(run.name.substr(dash + 1));
      if (a) run.attempt = static_cast<int>(*a);
    }
    std::lock_guard<std::mutex> l(mu_);
    tracked_[job_id] = run;
    return true;  // its state comes with the next poll (or "no longer known")
  }

  std::optional<std::string> FindInterrupted(int64_t job_id, int attempt) override {
    std::string name = JobName(job_id, attempt);
    auto jobs = client_.Jobs();
    if (!jobs.ok()) return Handle(0, name, attempt);  // cannot tell yet: found by name when Slurm answers
    int64_t newest = 0;
    for (const auto& j : *jobs)
      if (j.name == name) newest = std::max(newest, j.job_id);
    if (newest > 0) return Handle(newest, name, attempt);
    std::lock_guard<std::mutex> l(mu_);
    if (Fence(job_id, attempt)) return std::nullopt;  // never submitted, or lost before it started
    return Handle(0, name, attempt);  // it ran and Slurm has forgotten it: its exit file tells
  }

  std::string LogPath(int64_t job_id, int attempt, const std::string& stream) override {
    return RunDir(job_id, attempt) + (stream == "stderr" ? "/stderr.log" : "/stdout.log");
  }

 private:
  struct Run {
    int64_t slurm_id = 0;  // 0: not known yet (found by name)
    std::string name;      // cnet-<job>-<attempt>
    int attempt = 1;
    bool started = false;
    bool cancel = false;   // cancel it when Slurm answers
    double unknown_since = 0;  // Slurm stopped knowing it (it started): when we first noticed
    std::string note;          // the last waiting reason reported
    double since = 0;          // MonotonicSeconds when tracking began
  };
  // A started job Slurm no longer knows (its controller lost state) and that wrote no exit code is
  // lost after this long; Slurm kills such orphans when their nodes re-register.
  static constexpr double kLostAfterS = 60;
  static std::string JobName(int64_t job, int attempt) {
    return "cnet-" + std::to_string(job) + "-" + std::to_string(attempt);
  }
  static std::string Handle(int64_t id, const std::string& name, int attempt) {
    json h{{"name", name}, {"attempt", attempt}};
    if (id > 0) h["slurm_job_id"] = id;
    return h.dump();
  }
  // The exit code the batch script wrote to the attempt's run directory, if it got that far.
  std::optional<int64_t> RecordedExit(int64_t job, int attempt) const {
    auto text = ReadWholeFile(RunDir(job, attempt) + "/exit");
    return text.ok() ? ParseInt(Trim(*text)) : std::nullopt;
  }
  // Claims the attempt's run directory, as its batch script does first: true if we got it first,
  // so its command will never run.
  bool Fence(int64_t job, int attempt) const {
    std::string dir = RunDir(job, attempt);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return false;
    return ::mkdir((dir + "/claim").c_str(), 0755) == 0;
  }
  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  }
  std::string RunDir(int64_t job, int attempt) const {
    return out_dir_ + "/" + std::to_string(job) + "/" + std::to_string(attempt);
  }
  void SaveCache(const SiteInventory& inv) {
    json nodes = json::array();
    for (const auto& n : inv.nodes)
      nodes.push_back({{"name", n.name}, {"accelerator", n.accelerator}, {"accelerators", n.accelerators},
                       {"cpus", n.cpus}, {"memory_gib", n.memory_gib}});
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(cache_path_).parent_path(), ec);
    std::string tmp = cache_path_ + ".tmp";
    std::ofstream(tmp) << json{{"nodes", nodes}, {"saved", WallNow()}}.dump();
    std::filesystem::rename(tmp, cache_path_, ec);
  }
  SiteInventory LoadCache() const {
    SiteInventory inv;
    auto text = ReadWholeFile(cache_path_);
    if (!text.ok()) return inv;
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object()) return inv;
    for (const auto& n : j.value("nodes", json::array()))
      inv.nodes.push_back({n.value("name", ""), n.value("accelerator", ""), n.value("accelerators", 0),
                           n.value("cpus", 0), n.value("memory_gib", 0.0), false, ""});
    return inv;
  }

  static sites::SlurmConfig ClientConfig(const SiteConfig& cfg) {
    sites::SlurmConfig sc;
    sc.url = cfg.url;
    sc.user = cfg.user;
    sc.jwt_key_file = cfg.jwt_key_file;
    sc.token = cfg.token;
    sc.timeout_s = 3;
    return sc;
  }

  SiteConfig cfg_;
  std::string out_dir_, cache_path_;
  sites::SlurmClient client_;  // inventory, polls, cancels
  // Submissions: one connection each, so several may wait on slurmctld at once.
  std::vector<std::unique_ptr<sites::SlurmClient>> submitters_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<sites::SlurmClient*> free_;
  std::map<std::string, std::string> gres_of_accel_;
  std::mutex mu_;
  std::map<int64_t, Run> tracked_;  // computenet job -> Slurm job
  std::vector<std::pair<int64_t, std::string>> to_cancel_;  // withdrawn attempts (id or name) to cancel
  std::vector<SiteEvent> events_;   // reported by the next Poll
  SiteInventory inventory_;         // the last one read
  bool have_inventory_ = false;
  bool stop_ = false;
  std::condition_variable wake_;
  std::thread refresher_;           // last member: started once the others exist
  double fail_fast_until_ = 0;
  bool poll_failed_ = false;      // the last poll could not reach Slurm
  double recovering_until_ = 0;   // after an outage: exit files are checked until then
  static constexpr double kRecoveryWindowS = 600;  // MonotonicSeconds: Launch refuses at once until then
  std::string reason_;
};

}  // namespace

Result<std::unique_ptr<Site>> MakeSlurmSite(const SiteConfig& cfg, const std::string& data_dir) {
  if (cfg.url.empty()) return InvalidArgument("sites: slurm site '" + cfg.name + "' needs a url");
  return std::unique_ptr<Site>(std::make_unique<SlurmSite>(cfg, data_dir));
}

}  // namespace cnet::service
