#include "service/slurm_site.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

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
        client_([&] {
          sites::SlurmConfig sc;
          sc.url = cfg.url;
          sc.user = cfg.user;
          sc.jwt_key_file = cfg.jwt_key_file;
          sc.token = cfg.token;
          sc.timeout_s = 3;
          return sc;
        }()) {
    for (const auto& [gres, accel] : cfg.gres_map) gres_of_accel_[accel] = gres;
  }

  const std::string& name() const override { return cfg_.name; }
  std::string type() const override { return "slurm"; }

  SiteInventory Inventory() override {
    SiteInventory inv;
    auto nodes = client_.Nodes();
    std::lock_guard<std::mutex> l(mu_);
    if (!nodes.ok()) {
      healthy_ = false;
      reason_ = "slurmrestd: " + nodes.status().message();
      inv = LoadCache();
      inv.healthy = false;
      inv.reason = reason_;
      for (auto& n : inv.nodes) {
        n.usable = false;
        n.reason = "site unreachable";
      }
      return inv;
    }
    healthy_ = true;
    reason_.clear();
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
    return inv;
  }

  Result<std::string> Launch(const SiteLaunch& l, bool* started) override {
    *started = false;
    const api::JobRequest& r = *l.req;
    sites::SlurmJobSpec s;
    s.name = "cnet-" + std::to_string(l.job_id) + "-" + std::to_string(l.attempt);
    s.partition = cfg_.partition;
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
    s.working_dir = r.working_dir.empty() ? dir : r.working_dir;
    s.stdout_path = dir + "/stdout.log";
    s.stderr_path = dir + "/stderr.log";
    s.env = r.env;
    if (!s.env.count("PATH")) s.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    s.env["CNET_JOB_ID"] = std::to_string(l.job_id);
    std::string argv;
    for (const auto& a : r.command) argv += " " + ShQuote(a);
    // Each task is one worker: its index and the gang size come from Slurm.
    s.script = "#!/bin/sh\nexec srun --kill-on-bad-exit=1 sh -c "
               "'CNET_WORKER_INDEX=$SLURM_PROCID CNET_WORLD_SIZE=$SLURM_NTASKS; export CNET_WORKER_INDEX CNET_WORLD_SIZE; exec \"$@\"' cnet" +
               argv + "\n";
    CNET_ASSIGN_OR_RETURN(int64_t id, client_.Submit(s));
    std::lock_guard<std::mutex> lk(mu_);
    tracked_[l.job_id] = Run{id, false};
    return json{{"slurm_job_id", id}, {"name", s.name}}.dump();
  }

  std::vector<SiteEvent> Poll(double now) override {
    std::vector<SiteEvent> out;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (tracked_.empty() || now < next_poll_) return out;
      next_poll_ = now + cfg_.poll_interval_s;
    }
    auto jobs = client_.Jobs();
    std::lock_guard<std::mutex> l(mu_);
    if (!jobs.ok()) {
      healthy_ = false;
      reason_ = "slurmrestd: " + jobs.status().message();
      return out;  // nothing is decided while Slurm cannot be asked
    }
    std::map<int64_t, const sites::SlurmJob*> by_id;
    for (const auto& j : *jobs) by_id[j.job_id] = &j;
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      auto f = by_id.find(it->second.slurm_id);
      if (f == by_id.end()) {
        // Slurm forgot it (past MinJobAge, or a restart lost it): its outcome is unknown.
        out.push_back({SiteEvent::kEnded, it->first, false, 1, false,
                       "Slurm no longer knows job " + std::to_string(it->second.slurm_id), ""});
        it = tracked_.erase(it);
        continue;
      }
      const sites::SlurmJob& j = *f->second;
      if (!it->second.started && (j.state == "RUNNING" || j.Terminal())) {
        it->second.started = true;
        out.push_back({SiteEvent::kStarted, it->first, false, 0, false,
                       "running on " + cfg_.name + " as Slurm job " + std::to_string(j.job_id) + " (" + Join(j.nodes) + ")", ""});
      }
      if (j.Terminal()) {
        SiteEvent e{SiteEvent::kEnded, it->first, j.state == "COMPLETED" && j.exit_code == 0, j.exit_code,
                    j.state == "CANCELLED", "", ""};
        e.reason = j.state == "COMPLETED" ? "exit code " + std::to_string(j.exit_code)
                   : j.state == "TIMEOUT"  ? "time limit exceeded (Slurm TIMEOUT)"
                                           : "Slurm " + j.state + (j.reason.empty() || j.reason == "None" ? "" : " (" + j.reason + ")") +
                                                 ", exit code " + std::to_string(j.exit_code);
        out.push_back(std::move(e));
        it = tracked_.erase(it);
        continue;
      }
      ++it;
    }
    return out;
  }

  Status Kill(int64_t job_id, const std::string&) override {
    int64_t sid;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = tracked_.find(job_id);
      if (it == tracked_.end()) return NotFound("job " + std::to_string(job_id) + " is not on " + cfg_.name);
      sid = it->second.slurm_id;
    }
    return client_.Cancel(sid);
  }

  bool Adopt(int64_t job_id, const std::string& runtime_json) override {
    json h = json::parse(runtime_json, nullptr, false);
    if (!h.is_object() || !h.contains("slurm_job_id")) return false;
    std::lock_guard<std::mutex> l(mu_);
    tracked_[job_id] = Run{h["slurm_job_id"].get<int64_t>(), false};
    return true;  // its state comes with the next poll (or "no longer known")
  }

  std::optional<std::string> FindInterrupted(int64_t job_id, int attempt) override {
    auto jobs = client_.Jobs();
    if (!jobs.ok()) return std::nullopt;
    std::string name = "cnet-" + std::to_string(job_id) + "-" + std::to_string(attempt);
    for (const auto& j : *jobs)
      if (j.name == name) return json{{"slurm_job_id", j.job_id}, {"name", name}}.dump();
    return std::nullopt;
  }

  std::string LogPath(int64_t job_id, int attempt, const std::string& stream) override {
    return RunDir(job_id, attempt) + (stream == "stderr" ? "/stderr.log" : "/stdout.log");
  }

 private:
  struct Run {
    int64_t slurm_id;
    bool started;
  };
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

  SiteConfig cfg_;
  std::string out_dir_, cache_path_;
  sites::SlurmClient client_;
  std::map<std::string, std::string> gres_of_accel_;
  std::mutex mu_;
  std::map<int64_t, Run> tracked_;  // computenet job -> Slurm job
  double next_poll_ = 0;
  bool healthy_ = true;
  std::string reason_;
};

}  // namespace

Result<std::unique_ptr<Site>> MakeSlurmSite(const SiteConfig& cfg, const std::string& data_dir) {
  if (cfg.url.empty()) return InvalidArgument("sites: slurm site '" + cfg.name + "' needs a url");
  return std::unique_ptr<Site>(std::make_unique<SlurmSite>(cfg, data_dir));
}

}  // namespace cnet::service
