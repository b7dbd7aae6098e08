#include "service/local_adapter.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/csv.h"
#include "sites/proc_scan.h"

namespace cnet::service {

LocalAdapter::LocalAdapter(const SiteConfig& cfg, const std::string& data_dir)
    : name_(cfg.name), data_dir_(data_dir), detected_(sites::DetectInventory()), site_(data_dir) {
  int cpus = cfg.cpus > 0 ? cfg.cpus : detected_.cpus;
  double mem = cfg.memory_gib > 0 ? cfg.memory_gib : detected_.memory_gib;
  std::string accel = cfg.accelerator.empty() ? detected_.accelerator : cfg.accelerator;
  int count = cfg.accelerators >= 0 ? cfg.accelerators : detected_.accelerator_count;
  if (!accel.empty() && count > 0) inventory_.nodes.push_back({"gpu", accel, count, cpus, mem, true, ""});
  inventory_.nodes.push_back({"cpu", "", 0, std::max(1, cpus), mem, true, ""});
}

Result<std::string> LocalAdapter::Launch(const SiteLaunch& l, LaunchInfo* info) {
  sites::LaunchSpec ls;
  ls.job_id = l.job_id;
  ls.attempt = l.attempt;
  ls.argv = l.req->command;
  ls.env = l.req->env;
  ls.working_dir = l.req->working_dir;
  ls.workers = l.req->workers;
  ls.devices = l.devices;
  ls.device_env = l.device_env;
  ls.time_limit_s = l.req->time_limit_s;
  CNET_ASSIGN_OR_RETURN(sites::RunHandle h, site_.Launch(ls));
  info->started = true;
  return h.ToJson();
}

std::vector<SiteEvent> LocalAdapter::Poll(double now) {
  std::vector<SiteEvent> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    out.swap(ended_);
  }
  for (const sites::ExitInfo& e : site_.Poll(now)) {
    SiteEvent ev;
    ev.kind = SiteEvent::kEnded;
    ev.job_id = e.job_id;
    ev.success = e.success;
    ev.exit_code = e.exit_code;
    ev.killed = e.killed;
    ev.reason = e.success ? "exit code 0" : e.reason;
    out.push_back(std::move(ev));
  }
  return out;
}

bool LocalAdapter::Adopt(int64_t job_id, const std::string& runtime_json) {
  // A run that ended before its launch was recorded (see FindInterrupted): report its outcome.
  nlohmann::json f = nlohmann::json::parse(runtime_json, nullptr, false);
  if (f.is_object() && f.value("ended", false)) {
    SiteEvent e;
    e.kind = SiteEvent::kEnded;
    e.job_id = job_id;
    e.success = true;
    e.reason = "exit code 0";
    int k = 0;
    for (const auto& c : f.value("exit_codes", nlohmann::json::array())) {
      int code = c.get<int>();
      if (code != 0 && e.success) {
        e.success = false;
        e.exit_code = code;
        e.reason = "exit code " + std::to_string(code) + " (worker " + std::to_string(k) + ")";
      }
      ++k;
    }
    e.reason += "; it ended while the service was down";
    std::lock_guard<std::mutex> l(mu_);
    ended_.push_back(std::move(e));
    return true;
  }
  auto h = sites::RunHandle::FromJson(runtime_json);
  return h.ok() && h->job_id == job_id && site_.Adopt(*h);
}

std::optional<std::string> LocalAdapter::FindInterrupted(int64_t job_id, int attempt) {
  // The site records each run's handle in its run directory right after starting it.
  std::string dir = data_dir_ + "/runs/" + std::to_string(job_id) + "/" + std::to_string(attempt);
  if (auto text = ReadWholeFile(dir + "/handle.json"); text.ok()) {
    if (auto h = sites::RunHandle::FromJson(*text); h.ok() && h->job_id == job_id) return *text;
  }
  // Else (a crash between starting the workers and writing that file): its processes carry
  // CNET_JOB_ID in their environment; the shims are those whose parent is not one of the job's.
  auto procs = sites::FindJobProcesses(job_id);
  if (procs.empty()) {
    // No handle and no process, but its workers may have run and ended (the service died between
    // starting them and recording the handle): their shims left exit files. Then it ran: never
    // start it again.
    nlohmann::json codes = nlohmann::json::array();
    for (int k = 0;; ++k) {
      auto t = ReadWholeFile(dir + "/exit." + std::to_string(k));
      auto v = t.ok() ? ParseInt(*t) : std::nullopt;
      if (!v) break;
      codes.push_back(*v);
    }
    if (codes.empty()) return std::nullopt;
    return nlohmann::json{{"ended", true}, {"exit_codes", codes}}.dump();
  }
  sites::RunHandle h;
  h.job_id = job_id;
  h.attempt = attempt;
  h.pgid = procs.front().pgid;
  h.started_at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  h.run_dir = data_dir_ + "/runs/" + std::to_string(job_id) + "/" + std::to_string(attempt);
  std::vector<sites::FoundProcess> shims;
  for (const auto& p : procs)
    if (p.pgid == h.pgid && std::none_of(procs.begin(), procs.end(), [&](const auto& q) { return q.pid == p.ppid; }))
      shims.push_back(p);
  std::sort(shims.begin(), shims.end(), [](const auto& x, const auto& y) { return x.worker_index < y.worker_index; });
  for (const auto& p : shims) {
    h.pids.push_back(p.pid);
    h.start_ticks.push_back(p.start_ticks);
  }
  return h.ToJson();
}

}  // namespace cnet::service
