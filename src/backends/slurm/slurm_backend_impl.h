// SlurmBackend: the Slurm site (slurm_backend.h states the contract). Internal to the Slurm backend;
// built by NewSlurmBackend. Its methods are defined by area:
//   slurm_backend.cc     construction, the SiteBackend calls (Launch, Kill, Adopt, ...), the
//                        inventory cache
//   slurm_refresher.cc   the refresher thread: reads nodes and jobs, decides each run's fate,
//                        applies the decisions under the lock
//   slurm_exit_files.cc  the exit codes batch scripts leave in their run directories
//   slurm_fence.cc       fencing an attempt off (its run directory's claim), Withdraw, and the
//                        cancels of withdrawn attempts
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/site_backend.h"
#include "backends/slurm/batch_script.h"
#include "backends/slurm/slurm_backend.h"
#include "backends/slurm/slurm_client.h"

namespace cnet::backends::slurm {

// Why the site is unhealthy, naming what failed: a refused or broken connection means slurmrestd
// itself is down; an HTTP answer carrying a communication error means slurmctld did not answer it;
// a connection slurmrestd accepted but never answered means it is stuck waiting on slurmctld.
std::string UnhealthyReason(const Status& st);
// The run's handle. "site_job" is the backend-neutral part the API shows as the job's site_job
// (Slurm's job id and ClusterName, once known).
std::string Handle(int64_t id, const std::string& name, int attempt, const std::string& cluster = "");
// A SiteEvent of `kind` for the job's attempt.
SiteEvent MakeEvent(SiteEvent::Kind kind, int64_t job_id, int attempt, std::string reason);

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
    std::vector<std::string> placed;  // the nodes the service placed it on, or let Slurm choose from (sorted); empty after a restart
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
  struct Ended {              // an attempt reported ended and forgotten (watched kEndedWatchS)
    int64_t slurm_id = 0;
    std::string name;
    double at = 0;             // MonotonicSeconds when the exit file was read
    double active_since = 0;   // since when Slurm lists it pending or running (0: it does not)
  };

  // A started job Slurm no longer knows and that wrote no exit code is lost after this long.
  static constexpr double kLostAfterS = 60;
  // After an outage exit files are checked for this long (nodes re-register late).
  static constexpr double kRecoveryWindowS = 600;
  // Ended attempts are watched this long for Slurm listing them active (SlurmOptions::
  // lost_end_cancel_s), at most kMaxEndedWatched of them (the oldest are dropped).
  static constexpr double kEndedWatchS = 600;
  static constexpr size_t kMaxEndedWatched = 100000;
  // Between job reads, started runs' exit files are looked at this often, so a completion is
  // noticed within this, not at the next poll: one small file read per running job, at most
  // kExitChecksPerS reads a second (with more running jobs the interval grows).
  static constexpr double kExitCheckS = 0.1;
  static constexpr double kExitChecksPerS = 2000;

  SlurmConfig ClientConfig() const;
  std::string RunDir(int64_t job, int attempt) const;
  // The exit code the attempt's batch script wrote to its run directory, if any.
  std::optional<int64_t> RecordedExit(int64_t job, int attempt) const;
  std::optional<std::vector<std::string>> RecordedStart(int64_t job, int attempt) const;
  // Claims the attempt's run directory before its script can: true if its command will never run.
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
  // Ended attempts Slurm has listed active for lost_end_cancel_s (to cancel); forgets those
  // watched kEndedWatchS.
  std::vector<Cancel> DueLingering(const JobIndex& idx, double now);
  Decision Decide(int64_t job_id, Run run, const JobIndex& idx, double fetched, double now, bool recovering);
  bool DecideGone(Decision& d, double fetched, double now);
  void Apply(std::vector<Decision> decisions);
  // Adds what each ended run's directory says (its stage-in: backends/stage_in.h) to its kEnded
  // event; file reads, so outside the lock.
  void AddRunFields(std::vector<Decision>& decisions) const;

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
  std::vector<Ended> ended_;        // reported ended and forgotten; watched kEndedWatchS
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

}  // namespace cnet::backends::slurm
