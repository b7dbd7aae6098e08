// The control loop: the single writer of job state. HTTP threads never touch the scheduler, the
// job table or a site; they enqueue commands (a job taken in, a cancel) and read the ReadModel the
// loop publishes at the end of each tick. A tick:
//   1. commands   2. launch outcomes (and site events that came before them)   3. inventories
//   4. site events   5. stranded jobs   6. held jobs enter the scheduler (quota)
//   7. queued-ahead jobs whose nodes freed are booked (queue_ahead.h); a scheduling cycle, only if
//      something changed, and dispatch of its placements, then of the jobs queued ahead
//   8. publish the read model and gauges.
// Site launches run on the Launcher's threads, so no tick waits on a site's network.
// Thread-safety: Submitted, Cancel, Read, Wake may be called from any thread; Tick from one
// thread at a time (the loop thread once Start ran, or a test driving it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "service/dispatcher.h"
#include "service/gates.h"
#include "service/launcher.h"
#include "service/queue_ahead.h"
#include "service/loop_state.h"
#include "service/preemption.h"
#include "service/read_model.h"
#include "service/reconciler.h"
#include "service/wait_reasons.h"

namespace cnet::service {

// Waiting jobs the scheduler explains in detail per cycle (the first ones in queue order).
inline constexpr size_t kExplainLimit = 1000;

// Who acted, when an admin did (holds placed by an admin are released only by an admin).
inline constexpr char kAdminActor[] = "an admin";

// A user's hold, release or requeue of one job (service/user_actions.cc).
enum class UserAction { kHold, kRelease, kRequeue };

struct CancelOutcome {
  store::JobState state = store::JobState::kCancelled;
  std::string message;
};

class ControlLoop {
 public:
  explicit ControlLoop(LoopState& st, bool inline_launches = false);
  ~ControlLoop();
  void Start();
  // Finishes the tick in flight and stops; running jobs keep running (a restart re-adopts them).
  void Stop();

  // A job the store has committed (its queue slot reserved in the ledger).
  void Submitted(store::JobRow row, api::JobRequest req);
  // Cancels a job: CANCELLED at once if it has not been dispatched (after the commit), else the
  // request is committed (the row's reason becomes kCancelMark + by) and its run is being
  // stopped. kNotFound / kFailedPrecondition (already ended) / kUnavailable (the store failed:
  // nothing changed, nothing killed).
  // Several jobs (an array's tasks) are one command: every write they need is one store commit.
  // One result per id, in order.
  std::future<std::vector<Result<CancelOutcome>>> Cancel(std::vector<int64_t> ids, std::string by);
  // A dataset's policy or grants changed (service/datasets.h): the next tick re-checks the jobs
  // that read it (service/residency.h).
  void DatasetChanged(const std::string& name, bool enforce_running = false);
  // Hold (a pending job leaves the scheduler until released), release, or requeue (a dispatched
  // job's run is stopped as a cancel stops it, then it is PENDING again; a job that ended is PENDING
  // again) for `by`. Returns the job's state after the action. kNotFound / kFailedPrecondition
  // (wrong state; the message says why) / kUnavailable (the store failed: nothing changed).
  // Several ids are one command and one store commit, as for Cancel.
  std::future<std::vector<Result<store::JobState>>> Act(UserAction what, std::vector<int64_t> ids, std::string by);
  std::shared_ptr<const ReadModel> Read() const;
  void Wake();
  // One iteration now (tests drive the loop with this and a manual clock).
  void Tick();
  void NoteExpiries();  // datasets whose expiry came: DatasetChanged
  Launcher& launcher() { return launcher_; }
  Reconciler& reconciler() { return reconciler_; }

 private:
  struct CancelCmd {
    std::vector<int64_t> ids;
    std::string by;
    std::promise<std::vector<Result<CancelOutcome>>> done;
  };
  struct ActCmd {
    UserAction what;
    std::vector<int64_t> ids;
    std::string by;
    std::promise<std::vector<Result<store::JobState>>> done;
  };
  void TakeCommands();
  // A user's action over several jobs (service/user_actions.cc): each job's write is planned
  // (an error answers that job at once), all writes commit together, then each committed one
  // takes effect in memory and at its site.
  std::vector<Result<CancelOutcome>> DoCancel(const std::vector<int64_t>& ids, const std::string& by);
  Result<Transition> PlanCancel(int64_t id, const std::string& by);
  Result<CancelOutcome> AfterCancel(const Transition& committed, const std::string& by);
  std::vector<Result<store::JobState>> DoAct(UserAction what, const std::vector<int64_t>& ids, const std::string& by);
  // nullopt: nothing to write (a requeue asked before); the answer is the job's state.
  Result<std::optional<Transition>> PlanAct(UserAction what, int64_t id, const std::string& by);
  Result<store::JobState> AfterAct(UserAction what, const Transition& committed, const std::string& by);
  Result<store::JobState> AfterReopen(int64_t id);
  // A job taken in (submitted, reopened): behind its gates, or queued for the scheduler.
  void Enqueue(Active& a);
  void TakeLaunchOutcomes();
  void ReleaseHeld();
  void RunCycle();
  void Publish();
  void PublishReasons();
  OutageBook Outages() const;  // the sites down now, for waiting jobs' reasons
  void Loop();

  LoopState& st_;
  Dispatcher dispatcher_;  // holds launcher_ (declared last: its threads call Wake, so it goes first)
  Reconciler reconciler_;
  QueueAhead ahead_;
  Gates gates_;
  Preemptions preemptions_;
  double last_cycle_ = -1e18;
  double last_round_ = -1e18;  // a time-sharing policy's last round (ServiceConfig::round_s)
  double expiry_checked_ = -1e18;  // NoteExpiries' last look (epoch s)
  bool reasons_dirty_ = true;
  uint64_t ticks_ = 0;
  size_t work_ = 0;  // jobs and launch outcomes the current tick took in
  std::shared_ptr<const std::unordered_map<int64_t, std::string>> reasons_;
  std::shared_ptr<const QueueView> queue_;
  std::shared_ptr<const std::map<std::string, std::string>> held_reasons_;
  std::shared_ptr<const EstimateBase> estimate_;
  std::shared_ptr<const std::unordered_map<int64_t, double>> estimated_starts_;

  mutable std::mutex mu_;  // commands and the published model
  std::condition_variable cv_;
  std::deque<std::pair<store::JobRow, api::JobRequest>> submitted_;
  std::deque<CancelCmd> cancels_;
  std::map<std::string, bool> changed_datasets_;  // name -> enforce_running (Datasets::SetOnChange)
  std::deque<ActCmd> acts_;
  bool woken_ = false;
  bool urgent_ = false;  // a cancel waits: the next tick comes without a batching gap
  std::shared_ptr<const ReadModel> read_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Launcher launcher_;
};

}  // namespace cnet::service
