// The files batch scripts write to their run directories: `started` (the allocation's nodes) and
// `exit` (the gang's exit code), how a run's start and end are seen within kExitCheckS, and how an
// end is still seen while Slurm is down or has forgotten the job.
#include "backends/slurm/hostlist.h"
#include "backends/slurm/slurm_backend_impl.h"
#include "backends/stage_in.h"
#include "common/clock.h"
#include "common/csv.h"

namespace cnet::backends::slurm {

// The exit code the batch script wrote to the attempt's run directory, if it got that far.
std::optional<int64_t> SlurmBackend::RecordedExit(int64_t job, int attempt) const {
  auto text = ReadWholeFile(RunDir(job, attempt) + "/exit");
  return text.ok() ? ParseInt(Trim(*text)) : std::nullopt;
}

// The nodes the batch script says it started on (its `started` file), if it got that far.
std::optional<std::vector<std::string>> SlurmBackend::RecordedStart(int64_t job, int attempt) const {
  auto text = ReadWholeFile(RunDir(job, attempt) + "/started");
  if (!text.ok()) return std::nullopt;
  std::vector<std::string> nodes = ExpandHostList(Trim(*text));
  if (nodes.empty()) return std::nullopt;  // being written: looked at again
  return nodes;
}

// A run whose batch script has begun is started: reported now, with its nodes, not at the next
// job read. A started run whose batch script has written its exit code has ended: reported now
// (Slurm may still list it RUNNING or COMPLETING for a moment; it is no longer tracked). A run
// Kill asked to stop is reported killed unless it succeeded (Apply decides that under the lock, so
// a Kill that comes after this snapshot counts too).
size_t SlurmBackend::CheckExitFiles() {
  std::vector<std::pair<int64_t, Run>> runs;
  std::string cluster;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, run] : tracked_) runs.emplace_back(id, run);
    cluster = cluster_;
  }
  std::vector<Decision> ds;
  for (const auto& [id, run] : runs) {
    if (!run.started) {
      std::optional<std::vector<std::string>> nodes = RecordedStart(id, run.attempt);
      if (!nodes) continue;
      Decision d;
      d.job_id = id;
      d.name = run.name;
      d.run = run;
      d.run.started = true;
      std::string nodelist;
      for (const std::string& n : *nodes) nodelist += (nodelist.empty() ? "" : ",") + n;
      SiteEvent e = MakeEvent(SiteEvent::kStarted, id, run.attempt,
                              "running on " + name_ +
                                  (run.slurm_id > 0 ? " as Slurm job " + std::to_string(run.slurm_id) : "") + " (" +
                                  nodelist + ")");
      e.handle = Handle(run.slurm_id, run.name, run.attempt, cluster);
      e.nodes = *nodes;
      e.fields = {{"nodes", nodelist}};
      if (run.slurm_id > 0) e.fields["slurm_job_id"] = std::to_string(run.slurm_id);
      if (!cluster.empty()) e.fields["slurm_cluster"] = cluster;
      d.events.push_back(std::move(e));
      ds.push_back(std::move(d));
      continue;
    }
    std::optional<int64_t> rc = RecordedExit(id, run.attempt);
    if (!rc) continue;
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
  AddRunFields(ds);
  Apply(std::move(ds));
  return runs.size();
}

void SlurmBackend::AddRunFields(std::vector<Decision>& decisions) const {
  for (Decision& d : decisions)
    for (SiteEvent& e : d.events)
      if (e.kind == SiteEvent::kEnded)
        AddStageInFields(RunDir(d.job_id, e.attempt) + "/inputs", &e);
}

// An attempt reported ended (its exit file read, or Slurm listing it ended or gone) has nothing
// left to run. Slurm normally lists it ended within a second. One it lists active (pending or running) for lost_end_cancel_s has lost the end: a
// controller restarted from state saved before the completion arrived keeps the job "running",
// holding its node, and a minute later requeues it as missing from its node (whatever the job's
// requeue flag), to sit PENDING (BeginTime). It is cancelled there. Each end is watched for
// kEndedWatchS, through restarts: Slurm may list it ended and then, restarted, active again (an end
// Slurm itself reported before a crash that lost it, too: Apply watches every attempt it forgets).
std::vector<SlurmBackend::Cancel> SlurmBackend::DueLingering(const JobIndex& idx, double now) {
  std::vector<Cancel> due;
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Ended> keep;
  for (Ended& e : ended_) {
    if (now - e.at > kEndedWatchS) continue;
    const SlurmJob* j = idx.Find(e.slurm_id, e.name);
    if (!j || j->Terminal() || j->state == "COMPLETING") {
      e.active_since = 0;
    } else if (e.active_since <= 0) {
      e.active_since = now;
    } else if (now - e.active_since >= opts_.lost_end_cancel_s) {
      due.emplace_back(j->job_id, e.name);
      e.active_since = now;  // asked again only if it stays active that long again
    }
    keep.push_back(std::move(e));
  }
  ended_.swap(keep);
  return due;
}

}  // namespace cnet::backends::slurm
