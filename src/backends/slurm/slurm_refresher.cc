// The Slurm site's refresher thread: reads nodes and jobs (network, without the lock), decides
// what became of each tracked run, and applies those decisions under the lock.
#include <algorithm>
#include <chrono>

#include "backends/slurm/slurm_backend_impl.h"
#include "common/clock.h"

namespace cnet::backends::slurm {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

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

}  // namespace

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

void SlurmBackend::PollJobs() {
  std::map<int64_t, Run> runs;
  std::vector<Cancel> pending;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (tracked_.empty() && to_cancel_.empty() && ended_.empty()) return;
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
  for (Cancel& c : DueLingering(idx, now)) pending.push_back(std::move(c));
  std::vector<Cancel> left = DeliverWithdrawnCancels(std::move(pending), idx);
  std::vector<Decision> ds;
  for (auto& [id, run] : runs) ds.push_back(Decide(id, run, idx, fetched, now, recovering));
  {
    std::lock_guard<std::mutex> l(mu_);
    to_cancel_.insert(to_cancel_.end(), left.begin(), left.end());
  }
  AddRunFields(ds);
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
    const bool placed = r.placed.empty() || std::includes(r.placed.begin(), r.placed.end(), ran.begin(), ran.end());
    const std::string differs = placed ? "" : "; not the placed " + Join(r.placed);
    SiteEvent e = MakeEvent(SiteEvent::kStarted, job_id, r.attempt,
                            "running on " + name_ + " as Slurm job " + std::to_string(j->job_id) + " (" + Join(j->nodes) +
                                differs + ")");
    e.handle = Handle(j->job_id, r.name, r.attempt, j->cluster);
    e.fields = {{"slurm_job_id", std::to_string(j->job_id)}, {"slurm_cluster", j->cluster}, {"nodes", Join(j->nodes)}};
    e.nodes = j->nodes;
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
      // Watched in case Slurm keeps or brings it back active (see DueLingering).
      if (ended_.size() >= kMaxEndedWatched) ended_.erase(ended_.begin());
      ended_.push_back(Ended{it->second.slurm_id, it->second.name, MonotonicSeconds()});
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

}  // namespace cnet::backends::slurm
