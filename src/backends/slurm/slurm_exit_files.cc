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

}  // namespace cnet::backends::slurm
