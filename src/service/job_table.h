// The jobs the service is responsible for (every job not yet terminal), owned by the loop thread.
// Every state change goes through Apply: the store first (a compare-and-set against the state the
// table holds), then memory, then the tenant ledger. When the store fails, nothing in memory moves
// and the Status says why. Loop thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "api/job_request.h"
#include "backends/site_backend.h"
#include "model/job.h"
#include "service/tenant_ledger.h"
#include "store/store.h"

namespace cnet::service {

// The reason a dispatched job's row carries once a cancel of it was acknowledged (then the name
// of who cancelled it): recovery re-reads it, so an acknowledged cancel survives a restart.
inline constexpr char kCancelMark[] = "cancelling: requested by ";
// The same for a user's requeue of a dispatched job: its run is stopped, then it waits again.
inline constexpr char kRequeueMark[] = "requeueing: requested by ";

// In-memory state of a job that is not terminal.
struct Active {
  int64_t id = 0;
  std::string tenant;
  api::JobRequest req;
  JobSpec spec;
  store::JobState state = store::JobState::kPending;
  int attempts = 0;
  bool in_sched = false;           // admitted to the scheduler (else held: by quota, or requeued)
  bool cancel_requested = false;
  std::string cancelled_by;        // who, when cancel_requested (kept in the row's reason)
  bool launching = false;          // a Launch is in flight on a launcher thread
  bool interrupted_unknown = false;  // recovered dispatch whose site could not tell yet
  bool unconfirmed = false;        // its submit got no answer and the site has not confirmed it since
  int site = -1;                   // index of the site it was dispatched to
  // Dispatched ahead of free capacity (service/queue_ahead.h) and not yet booked in the scheduler:
  // `shape` names the nodes it is pinned to; quotas charge it as if it were in the scheduler.
  bool ahead = false;
  // An ahead job the site places itself (Capabilities::chooses_node): submitted to run on any of
  // `any_of`; `shape` is the policy's pick until kStarted names the node the site chose.
  std::vector<std::string> any_of;
  std::vector<backends::NodeShare> shape;  // where it runs (the exact nodes and workers)
  std::string accelerator;         // catalogue name of its placement, "" = CPU
  std::string reason;              // why it waits outside the scheduler
  // Job arrays, dependencies, user holds (service/gates.h): while `gated`, the job waits outside
  // the scheduler and outside its tenant's quota queue until Gates lets it through.
  int64_t array_id = 0;            // 0 = not an array task
  int array_index = 0;
  int array_limit = 0;             // the array's %N; 0 = none
  std::string held_by;             // a user hold ("" = none), as in the row
  bool gated = false;
  bool requeue_requested = false;  // a user requeue of its run: when the run ends it is PENDING again
  std::string requeued_by;
  // The policy preempted its run (elastic-hetero: a resize, a move, a rotation; service/preemption.h):
  // requeue_requested is set too, so the run is stopped as a requeue stops it; when it has stopped,
  // the job is PREEMPTED and waits in the scheduler, its record (attained service) kept.
  bool preempting = false;
  // Temporal shifting (service/time_shift.h): it waits behind its gates until this time (epoch s;
  // 0 = none), for the reason given.
  double not_before = 0;
  std::string not_before_why;
  std::vector<backends::SiteEvent> early_events;  // site events that came before its launch result
  Standing standing;               // as last reported to the ledger
};

struct Transition {
  int64_t id = 0;
  store::JobState to = store::JobState::kPending;
  std::string reason;
  double time = 0;
  store::Store::Update update;  // expected_from is set by the table (the state it holds)
  using Kind = store::Store::TransitionOp::Kind;
  // kReason and kReopen write the row only (store.h: TransitionOp); the table holds no job to move
  // for them (a reopened job is taken in afterwards, a reason is not a state).
  Kind kind = Kind::kTransition;
};

class JobTable {
 public:
  // `standing` computes a job's standing for the ledger from its in-memory state.
  // Every committed transition is logged at debug, every failed one at warn.
  JobTable(store::Store& store, TenantLedger& ledger, std::function<Standing(const Active&)> standing,
           std::shared_ptr<spdlog::logger> log)
      : store_(&store), ledger_(&ledger), standing_(std::move(standing)), log_(std::move(log)) {}

  // Takes a job in (its row is in the store already). Its first standing is reported to the ledger
  // as a move from `reserved` (the standing its submit reserved; {} after a restart).
  Active& Insert(std::unique_ptr<Active> a, const Standing& reserved);
  Active* Find(int64_t id);
  // One transition: store first, then memory. A job that reached a terminal state stays in the
  // table (standing: none) until the caller, having released what it held, Erases it.
  [[nodiscard]] Status Apply(const Transition& t);
  // Several transitions (and reason or reopen writes) in one store commit; one Status per
  // transition, in order.
  [[nodiscard]] std::vector<Status> ApplyAll(const std::vector<Transition>& ts);
  // Re-reports a job's standing after a change that is not a state change (held, placed).
  void Restand(Active& a);
  void Erase(int64_t id);
  const std::map<int64_t, std::unique_ptr<Active>>& jobs() const { return jobs_; }
  size_t size() const { return jobs_.size(); }
  // Jobs in the table by state (kept as transitions happen).
  const std::map<store::JobState, int>& by_state() const { return by_state_; }

 private:
  void Moved(Active& a, const Transition& t);
  store::Store* store_;
  TenantLedger* ledger_;
  std::function<Standing(const Active&)> standing_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<int64_t, std::unique_ptr<Active>> jobs_;
  std::map<store::JobState, int> by_state_;
};

}  // namespace cnet::service
