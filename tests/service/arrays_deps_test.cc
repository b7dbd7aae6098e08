// Job arrays (%N limit, task index in the environment, cancel), dependencies (order, a failed link
// ends the chain with the reason), hold/release/requeue and their refusals, and restarts in the
// middle of each: the control loop on fake sites, tick by tick (issue 11).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <set>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using service::Caller;
using service::UserAction;
using store::JobState;

const Caller kT{"t", false};
const Caller kOther{"u", false};
const Caller kAdmin{"", true};

api::JobRequest CpuJob() {
  api::JobRequest r = LoopHarness::Job(1, 0);
  r.cpus_per_worker = 1;
  return r;
}

// Service calls wait for the loop: run one on a thread and tick (no clock advance) until it returns.
template <typename F>
auto Drive(LoopHarness& h, F f) {
  auto fut = std::async(std::launch::async, f);
  while (fut.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) h.svc().loop().Tick();
  return fut.get();
}
Result<service::Service::ActOutcome> Act(LoopHarness& h, const Caller& c, UserAction what, int64_t id) {
  return Drive(h, [&] { return h.svc().Act(c, what, id); });
}
Result<service::CancelOutcome> Cancel(LoopHarness& h, const Caller& c, int64_t id, bool whole = true) {
  return Drive(h, [&] { return h.svc().Cancel(c, id, whole); });
}

// A one-CPU array of tenant t, e.g. "1,3,5-7" or "0-4%2".
Result<int64_t> SubmitArray(LoopHarness& h, const std::string& array) {
  api::JobRequest r = CpuJob();
  r.array = array;
  return h.Submit("t", r);
}

std::vector<store::JobRow> Tasks(LoopHarness& h, int64_t array) {
  store::JobFilter f;
  f.array_id = array;
  f.limit = 1000;
  auto rows = h.svc().ListJobs(kAdmin, f);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<store::JobRow> out;
  if (rows.ok())
    for (auto& v : *rows) out.push_back(v.row);
  return out;
}

int Dispatched(const std::vector<store::JobRow>& rows) {
  return static_cast<int>(std::count_if(rows.begin(), rows.end(), [](const store::JobRow& r) {
    return r.state == JobState::kScheduled || r.state == JobState::kRunning;
  }));
}

std::string LiveReason(LoopHarness& h, int64_t id) {
  auto v = h.svc().GetJob(kAdmin, id, false);
  EXPECT_TRUE(v.ok());
  return v.ok() ? (v->live_reason.empty() ? v->row.reason : v->live_reason) : "";
}

// 100 one-CPU tasks on a 200-CPU node: without the limit all would run at once.
TEST(JobArrays, HundredTasksWithLimitEightNeverRunMoreThanEightEvenAcrossARestart) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 200)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  api::JobRequest r = CpuJob();
  r.array = "0-99%8";
  auto id = h.Submit("t", r);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::set<std::string> seen_index;
  int max_seen = 0, rounds = 0;
  while (true) {
    h.Tick(2);
    auto rows = Tasks(h, *id);
    ASSERT_EQ(rows.size(), 100u);
    const int n = Dispatched(rows);
    max_seen = std::max(max_seen, n);
    ASSERT_LE(n, 8) << "round " << rounds;
    if (std::all_of(rows.begin(), rows.end(), [](const store::JobRow& x) { return x.state == JobState::kSucceeded; })) break;
    // End three of the running tasks per round (not all: the limit must hold while others run).
    std::vector<int64_t> running = site.active();
    for (size_t k = 0; k < running.size() && k < 3; ++k) site.End(running[k], 0);
    if (++rounds == 10) {
      ASSERT_TRUE(h.Start().ok());  // a restart in the middle
    }
    ASSERT_LT(rounds, 200);
  }
  EXPECT_EQ(max_seen, 8);
  for (const auto& l : site.launches()) {
    EXPECT_EQ(l.env.at("CNET_ARRAY_JOB_ID"), std::to_string(*id));
    seen_index.insert(l.env.at("CNET_ARRAY_TASK_ID"));
  }
  EXPECT_EQ(seen_index.size(), 100u);
  EXPECT_TRUE(seen_index.count("0") && seen_index.count("99"));
}

TEST(JobArrays, SizeBeyondTheBoundIsRefusedNamingTheField) {
  LoopHarness h;
  h.AddSite("a", {CpuNode("c0", 8)});
  h.AddTenant("t");
  h.config().limits.max_array_size = 10;
  ASSERT_TRUE(h.Start().ok());
  api::JobRequest r = CpuJob();
  r.array = "0-10";
  auto id = h.Submit("t", r);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kInfeasible);
  EXPECT_EQ(id.status().message().rfind("array: ", 0), 0u) << id.status().message();
  EXPECT_EQ(h.Usage("t").queued, 0);  // nothing reserved stays
  r.array = "0-9";
  EXPECT_TRUE(h.Submit("t", r).ok());
  EXPECT_EQ(h.Usage("t").queued, 10);
}

TEST(JobArrays, CancelOfTheArrayIdEndsEveryTaskAndATaskIdOnlyItself) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = SubmitArray(h, "1,3,5-7");
  ASSERT_TRUE(id.ok());
  h.Tick(2);
  auto rows = Tasks(h, *id);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[1].array_index, 3);
  auto one = Cancel(h, kT, rows[1].id);  // a task's own id: that task only
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  h.Tick(2);
  EXPECT_EQ(h.State(rows[1].id), JobState::kCancelled);
  EXPECT_EQ(h.State(rows[0].id), JobState::kRunning);
  auto first_only = Cancel(h, kT, *id, /*whole_array=*/false);
  ASSERT_TRUE(first_only.ok());
  h.Tick(2);
  EXPECT_EQ(h.State(*id), JobState::kCancelled);
  EXPECT_NE(h.State(rows[2].id), JobState::kCancelled);
  auto all = Cancel(h, kT, *id);  // the array's id: every task left
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  h.Tick(3);
  for (const auto& t : Tasks(h, *id)) EXPECT_EQ(t.state, JobState::kCancelled) << t.id;
  EXPECT_TRUE(site.active().empty());
}

// An action on the array's id is one store commit: when it fails, no task changed (none held, none
// cancelled, no run stopped); retried, it takes effect on every task it applies to.
TEST(JobArrays, WholeArrayActionsCommitAllOrNothing) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = SubmitArray(h, "0-4%2");
  ASSERT_TRUE(id.ok());
  h.Tick(3);
  ASSERT_EQ(Dispatched(Tasks(h, *id)), 2);
  auto held_rows = [&] {
    int n = 0;
    for (const auto& t : Tasks(h, *id)) n += !t.held_by.empty();
    return n;
  };

  h.store().fail_transitions = 1;  // the next commit fails
  auto hold = Act(h, kT, UserAction::kHold, *id);
  ASSERT_FALSE(hold.ok());
  EXPECT_EQ(hold.status().code(), Code::kUnavailable) << hold.status().ToString();
  EXPECT_EQ(held_rows(), 0);
  hold = Act(h, kT, UserAction::kHold, *id);
  ASSERT_TRUE(hold.ok()) << hold.status().ToString();
  EXPECT_EQ(hold->done, 3);  // the pending three; the two running are named in skipped
  EXPECT_EQ(hold->skipped.size(), 2u);
  EXPECT_EQ(held_rows(), 3);

  h.store().fail_transitions = 1;
  auto cancel = Cancel(h, kT, *id);
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.status().code(), Code::kUnavailable) << cancel.status().ToString();
  h.Tick(2);
  EXPECT_EQ(site.active().size(), 2u);  // no run stopped
  for (const auto& t : Tasks(h, *id)) {
    EXPECT_FALSE(store::IsTerminal(t.state)) << t.id;
    EXPECT_EQ(t.reason.find("cancel"), std::string::npos) << t.id << ": " << t.reason;
  }
  cancel = Cancel(h, kT, *id);
  ASSERT_TRUE(cancel.ok()) << cancel.status().ToString();
  h.Tick(3);
  for (const auto& t : Tasks(h, *id)) EXPECT_EQ(t.state, JobState::kCancelled) << t.id;
  EXPECT_TRUE(site.active().empty());

  h.store().fail_transitions = 1;  // requeue of ended tasks: their reopens commit together too
  auto requeue = Act(h, kT, UserAction::kRequeue, *id);
  ASSERT_FALSE(requeue.ok());
  for (const auto& t : Tasks(h, *id)) EXPECT_EQ(t.state, JobState::kCancelled) << t.id;
  requeue = Act(h, kT, UserAction::kRequeue, *id);
  ASSERT_TRUE(requeue.ok()) << requeue.status().ToString();
  EXPECT_EQ(requeue->done, 5);
  h.Tick(3);
  EXPECT_EQ(Dispatched(Tasks(h, *id)), 2);  // the %2 limit holds again
}

TEST(Dependencies, ChainOfThreeRunsInOrderAndAFailedFirstLinkCancelsTheRestWithTheReason) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto chain = [&](std::vector<int64_t>* ids) {
    auto a = h.Submit("t", CpuJob());
    ASSERT_TRUE(a.ok());
    api::JobRequest rb = CpuJob();
    rb.dependency = {{api::DepKind::kAfterOk, *a}};
    auto b = h.Submit("t", rb);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    api::JobRequest rc = CpuJob();
    rc.dependency = {{api::DepKind::kAfterOk, *b}};
    auto c = h.Submit("t", rc);
    ASSERT_TRUE(c.ok());
    *ids = {*a, *b, *c};
  };
  std::vector<int64_t> ok;
  chain(&ok);
  h.Tick(3);
  EXPECT_EQ(h.State(ok[0]), JobState::kRunning);
  EXPECT_EQ(h.State(ok[1]), JobState::kPending);
  EXPECT_NE(LiveReason(h, ok[1]).find("afterok:" + std::to_string(ok[0])), std::string::npos) << LiveReason(h, ok[1]);
  site.End(ok[0], 0);
  h.Tick(3);
  EXPECT_EQ(h.State(ok[0]), JobState::kSucceeded);
  EXPECT_EQ(h.State(ok[1]), JobState::kRunning);
  EXPECT_EQ(h.State(ok[2]), JobState::kPending);
  site.End(ok[1], 0);
  h.Tick(3);
  EXPECT_EQ(h.State(ok[2]), JobState::kRunning);
  site.End(ok[2], 0);
  h.Tick(2);
  EXPECT_EQ(h.State(ok[2]), JobState::kSucceeded);
  // The launches came in chain order.
  std::vector<int64_t> order;
  for (const auto& l : site.launches()) order.push_back(l.job_id);
  EXPECT_EQ(order, ok);

  std::vector<int64_t> bad;
  chain(&bad);
  h.Tick(3);
  site.End(bad[0], 1);
  h.Tick(3);
  EXPECT_EQ(h.State(bad[0]), JobState::kFailed);
  for (int k : {1, 2}) {
    store::JobRow row = h.Row(bad[k]);
    EXPECT_EQ(row.state, JobState::kCancelled);
    EXPECT_EQ(row.reason.rfind("DependencyNeverSatisfied: afterok:" + std::to_string(bad[k - 1]), 0), 0u) << row.reason;
  }
  EXPECT_EQ(site.launches().size(), 4u);  // neither dependant ran
}

TEST(Dependencies, AfterNotOkAfterAnyAndArraysMeanEveryTask) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", CpuJob());
  api::JobRequest arr = CpuJob();
  arr.array = "0-2";
  auto array = h.Submit("t", arr);
  ASSERT_TRUE(a.ok() && array.ok());
  api::JobRequest notok = CpuJob(), any = CpuJob(), after_array = CpuJob();
  notok.dependency = {{api::DepKind::kAfterNotOk, *a}};
  any.dependency = {{api::DepKind::kAfterAny, *a}};
  after_array.dependency = {{api::DepKind::kAfterOk, *array}};
  auto n = h.Submit("t", notok), y = h.Submit("t", any), w = h.Submit("t", after_array);
  ASSERT_TRUE(n.ok() && y.ok() && w.ok());
  h.Tick(3);
  site.End(*a, 0);
  site.End(*array, 0);  // the array's first task only: the dependant still waits for the others
  h.Tick(3);
  EXPECT_EQ(h.State(*n), JobState::kCancelled);  // afternotok of a success: never
  EXPECT_EQ(h.State(*y), JobState::kRunning);
  EXPECT_EQ(h.State(*w), JobState::kPending);
  EXPECT_NE(LiveReason(h, *w).find("array " + std::to_string(*array)), std::string::npos) << LiveReason(h, *w);
  site.End(*array + 1, 0);
  site.End(*array + 2, 0);
  h.Tick(3);
  EXPECT_EQ(h.State(*w), JobState::kRunning);
}

TEST(Dependencies, UnknownOrForeignIdsAreRefusedAtSubmitNamingTheField) {
  LoopHarness h;
  h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  h.AddTenant("u");
  ASSERT_TRUE(h.Start().ok());
  auto theirs = h.Submit("u", CpuJob());
  ASSERT_TRUE(theirs.ok());
  for (int64_t target : {*theirs, int64_t{999}}) {
    api::JobRequest r = CpuJob();
    r.dependency = {{api::DepKind::kAfterOk, target}};
    auto id = h.Submit("t", r);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), Code::kInfeasible);
    EXPECT_EQ(id.status().message().rfind("dependency: job " + std::to_string(target), 0), 0u) << id.status().message();
  }
}

TEST(HoldReleaseRequeue, TransitionsAndRefusals) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  h.AddTenant("u");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", CpuJob());
  ASSERT_TRUE(id.ok());
  auto held = h.svc().loop().Act(UserAction::kHold, {*id}, "user t");  // taken in the tick that takes the job in
  h.Tick(3);
  ASSERT_TRUE(held.get().front().ok());
  EXPECT_EQ(h.State(*id), JobState::kPending);
  EXPECT_TRUE(site.launches().empty());
  EXPECT_EQ(LiveReason(h, *id).rfind("held by user t", 0), 0u) << LiveReason(h, *id);
  EXPECT_EQ(h.Row(*id).held_by, "user t");
  EXPECT_EQ(Act(h, kT, UserAction::kHold, *id).status().code(), Code::kFailedPrecondition);  // already held
  EXPECT_EQ(Act(h, kOther, UserAction::kRelease, *id).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(Act(h, kT, UserAction::kRequeue, *id).status().code(), Code::kFailedPrecondition);  // pending
  ASSERT_TRUE(Act(h, kT, UserAction::kRelease, *id).ok());
  EXPECT_EQ(Act(h, kT, UserAction::kRelease, *id).status().code(), Code::kFailedPrecondition);  // not held
  h.Tick(3);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(Act(h, kT, UserAction::kHold, *id).status().code(), Code::kFailedPrecondition);  // running
  // Requeue of a running job: stopped through the site, then PENDING, then a second attempt.
  auto rq = Act(h, kT, UserAction::kRequeue, *id);
  ASSERT_TRUE(rq.ok()) << rq.status().ToString();
  EXPECT_EQ(site.kills(), std::vector<int64_t>{*id});
  h.Tick(3);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Row(*id).attempts, 2);
  ASSERT_EQ(site.launches().size(), 2u);
  EXPECT_EQ(site.launches()[1].attempt, 2);
  // Requeue of an ended job: PENDING again, a third attempt.
  site.End(*id, 0);
  h.Tick(2);
  ASSERT_EQ(h.State(*id), JobState::kSucceeded);
  EXPECT_EQ(Act(h, kOther, UserAction::kRequeue, *id).status().code(), Code::kPermissionDenied);
  ASSERT_TRUE(Act(h, kT, UserAction::kRequeue, *id).ok());
  store::JobRow back = h.Row(*id);
  EXPECT_FALSE(store::IsTerminal(back.state)) << store::StateName(back.state);  // PENDING, or already dispatched again
  EXPECT_FALSE(back.exit_code.has_value());
  h.Tick(3);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Row(*id).attempts, 3);
  EXPECT_EQ(Act(h, kT, UserAction::kHold, 999).status().code(), Code::kNotFound);
}

TEST(HoldReleaseRequeue, AnAdminsHoldIsReleasedOnlyByAnAdmin) {
  LoopHarness h;
  h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  // A blocker holds every CPU, so the job is still pending when the hold (driven by ticks) comes.
  api::JobRequest big = CpuJob();
  big.cpus_per_worker = 16;
  auto blocker = h.Submit("t", big);
  ASSERT_TRUE(blocker.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*blocker), JobState::kRunning);
  auto id = h.Submit("t", CpuJob());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(Act(h, kAdmin, UserAction::kHold, *id).ok());
  EXPECT_EQ(Act(h, kT, UserAction::kRelease, *id).status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(Act(h, kAdmin, UserAction::kRelease, *id).ok());
}

TEST(HoldReleaseRequeue, HoldsAndDependenciesSurviveARestart) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", CpuJob());
  ASSERT_TRUE(a.ok());
  api::JobRequest rb = CpuJob();
  rb.dependency = {{api::DepKind::kAfterOk, *a}};
  auto b = h.Submit("t", rb);
  auto c = h.Submit("t", CpuJob());
  ASSERT_TRUE(b.ok() && c.ok());
  auto hc = h.svc().loop().Act(UserAction::kHold, {*c}, "user t");  // taken in the tick that takes c in
  h.Tick(3);
  ASSERT_TRUE(hc.get().front().ok());
  ASSERT_TRUE(Act(h, kT, UserAction::kRequeue, *a).ok());  // a's second attempt runs across the restart
  h.Tick(3);
  ASSERT_EQ(h.State(*a), JobState::kRunning);
  ASSERT_TRUE(h.Start().ok());
  h.Tick(3);
  EXPECT_EQ(h.State(*b), JobState::kPending);
  EXPECT_EQ(h.State(*c), JobState::kPending);
  EXPECT_EQ(LiveReason(h, *c).rfind("held by", 0), 0u) << LiveReason(h, *c);
  EXPECT_EQ(h.State(*a), JobState::kRunning);
  EXPECT_EQ(h.Row(*a).attempts, 2);
  site.End(*a, 0);
  h.Tick(3);
  EXPECT_EQ(h.State(*b), JobState::kRunning);
  EXPECT_EQ(h.State(*c), JobState::kPending);
}

}  // namespace
// A requeue of a running job is acknowledged and the service restarts right after the tick that
// took it in: by then the old attempt has ended and the new one is SCHEDULED, its launch not yet
// recorded. The restart must launch the new attempt once, not adopt it by the old attempt's
// handle (which failed the job "lost: its run ended while the service was down").
TEST(HoldReleaseRequeue, ARestartBeforeTheRequeuedAttemptsLaunchIsRecordedRunsItOnce) {
  LoopHarness h;
  auto& site = h.AddSite("a", {CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", CpuJob());
  ASSERT_TRUE(a.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*a), JobState::kRunning);
  auto rq = h.svc().loop().Act(UserAction::kRequeue, {*a}, "user t");
  h.svc().loop().Tick();
  ASSERT_TRUE(rq.get().front().ok());
  ASSERT_EQ(site.kills(), std::vector<int64_t>{*a});
  ASSERT_EQ(h.State(*a), JobState::kScheduled) << h.Row(*a).reason;  // the window under test
  ASSERT_TRUE(h.Start().ok());  // restart: a second Service on the same data dir
  h.Tick(5);
  EXPECT_EQ(h.State(*a), JobState::kRunning) << h.Row(*a).reason;
  EXPECT_EQ(h.Row(*a).attempts, 2);
  ASSERT_GE(site.launches().size(), 2u);
  EXPECT_EQ(site.launches().back().attempt, 2);
  EXPECT_EQ(site.launches().size(), 2u) << "the new attempt launched once";
  site.End(*a, 0);
  h.Tick(3);
  EXPECT_EQ(h.State(*a), JobState::kSucceeded);
}

}  // namespace cnet::testing
