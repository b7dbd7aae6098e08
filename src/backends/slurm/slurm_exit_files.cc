// The exit codes batch scripts write to their run directories: how a started run's end is seen
// within kExitCheckS, and how it is still seen while Slurm is down or has forgotten the job.
#include "backends/slurm/slurm_backend_impl.h"
#include "common/clock.h"
#include "common/csv.h"

namespace cnet::backends::slurm {

// The exit code the batch script wrote to the attempt's run directory, if it got that far.
std::optional<int64_t> SlurmBackend::RecordedExit(int64_t job, int attempt) const {
  auto text = ReadWholeFile(RunDir(job, attempt) + "/exit");
  return text.ok() ? ParseInt(Trim(*text)) : std::nullopt;
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
  std::vector<Decision> ds;
  for (const auto& [id, run] : runs) {
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
  Apply(std::move(ds));
  return runs.size();
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
