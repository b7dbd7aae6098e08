// Fencing an attempt off: its run directory's `claim`, which the batch script and Withdraw race to
// make, so that a withdrawn attempt never runs its command. Also Withdraw itself and the cancels of
// withdrawn or killed attempts that Slurm still lists.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "backends/slurm/slurm_backend_impl.h"

namespace cnet::backends::slurm {

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

}  // namespace cnet::backends::slurm
