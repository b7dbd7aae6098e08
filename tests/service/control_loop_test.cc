// The control loop on fake sites, driven tick by tick with a manual clock: dispatch shapes,
// lifecycle, quotas, faults of the store and of sites, restarts. Each regression test names the
// bug it pins (issue 8's list).
#include <gtest/gtest.h>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

TEST(ControlLoop, DispatchesRunsAndCompletes) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 8), CpuNode("c0", 16)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(2, 2, {"H100"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  h.Tick(2);
  ASSERT_EQ(site.launches().size(), 1u);
  const backends::LaunchRequest req = site.launches()[0];
  EXPECT_EQ(req.nodes, (std::vector<backends::NodeShare>{{"g0", 2}}));
  EXPECT_EQ(req.accelerators_per_worker, 2);
  EXPECT_EQ(req.device_env, "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Usage("t").running, 1);
  EXPECT_EQ(h.Usage("t").queued, 0);
  site.End(*id, 0);
  h.Tick();
  EXPECT_EQ(h.State(*id), JobState::kSucceeded);
  EXPECT_EQ(h.Usage("t").running, 0);
  EXPECT_EQ(h.Usage("t").charged_all, 0);
}

TEST(ControlLoop, NpuJobsSeeTheirDevicesThroughAscendVariable) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("n0", "Ascend-910B", 8)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.Submit("t", LoopHarness::Job(1, 1)).ok());
  h.Tick(2);
  ASSERT_EQ(site.launches().size(), 1u);
  EXPECT_EQ(site.launches()[0].device_env, "ASCEND_RT_VISIBLE_DEVICES");
}

// Bug 2: an uneven placement is launched with its exact per-node shape (2 + 1 workers), never as
// ceil(workers / nodes) per node.
TEST(ControlLoop, UnevenGangIsLaunchedWithItsExactShape) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 2), GpuNode("g1", "H100", 2)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto first = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(2);
  auto gang = h.Submit("t", LoopHarness::Job(3, 1));
  ASSERT_TRUE(first.ok() && gang.ok());
  h.Tick(2);
  ASSERT_EQ(site.launches().size(), 2u);
  const std::vector<backends::NodeShare> shape = site.launches()[1].nodes;
  int total = 0;
  for (const auto& n : shape) total += n.workers;
  EXPECT_EQ(total, 3);
  ASSERT_EQ(shape.size(), 2u);
  EXPECT_NE(shape[0].workers, shape[1].workers);  // 2 + 1
}

// Bug 1: a new Idempotency-Key does not bypass max_queued_jobs; a replay of a known key still
// returns its job.
TEST(ControlLoop, IdempotencyKeyDoesNotBypassQueueQuota) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 1)});
  h.AddTenant("t", {}, 2);
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", LoopHarness::Job(1, 1), "k1");
  auto b = h.Submit("t", LoopHarness::Job(1, 1), "k2");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = h.Submit("t", LoopHarness::Job(1, 1), "k3");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kResourceExhausted) << c.status().ToString();
  auto replay = h.svc().Submit(service::Caller{"t", false}, LoopHarness::Job(1, 1), "k1");
  ASSERT_TRUE(replay.ok());
  EXPECT_FALSE(replay->created);
  EXPECT_EQ(replay->job.id, *a);
}

// Bug 3: a placement whose SCHEDULED commit fails is neither launched nor lost: it waits and is
// dispatched once the store works again.
TEST(ControlLoop, FailedScheduledCommitLeavesJobWaitingThenDispatches) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(id.ok());
  h.store().fail_transitions = 1;
  h.Tick();
  EXPECT_TRUE(site.launches().empty());
  EXPECT_EQ(h.State(*id), JobState::kPending);
  EXPECT_EQ(h.Usage("t").queued, 1);
  h.Tick(3);
  ASSERT_EQ(site.launches().size(), 1u);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Usage("t").queued, 0);
}

// Bug 4: a run's end whose commit fails is retried, never forgotten (the row would stay RUNNING).
TEST(ControlLoop, FailedEndCommitIsRetried) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(2);
  ASSERT_EQ(h.State(*id), JobState::kRunning);
  site.End(*id, 3);
  h.store().fail_transitions = 1;
  h.Tick();
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  h.Tick();
  auto row = h.Row(*id);
  EXPECT_EQ(row.state, JobState::kFailed);
  ASSERT_TRUE(row.exit_code.has_value());
  EXPECT_EQ(*row.exit_code, 3);
}

// Bug 4: a launch whose RUNNING commit fails is recorded on a later tick; its end waits for it.
TEST(ControlLoop, FailedLaunchCommitIsRetried) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick();  // SCHEDULED committed, launched
  h.store().fail_transitions = 1;
  h.Tick();  // the RUNNING commit fails
  EXPECT_EQ(h.State(*id), JobState::kScheduled);
  site.End(*id, 0);  // its end arrives before its start is recorded
  h.Tick(2);
  EXPECT_EQ(h.State(*id), JobState::kSucceeded);
  EXPECT_EQ(site.launches().size(), 1u);
  EXPECT_EQ(h.Usage("t").queued, 0);
  EXPECT_EQ(h.Usage("t").running, 0);
}

// Bug 4: a refused launch whose FAILED commit fails keeps the job's placement until it is recorded.
TEST(ControlLoop, FailedRequeueAfterUnreachableLaunchIsRetried) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 1)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  site.FailNextLaunch(Status(Code::kUnavailable, "connection refused"));
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick();
  h.store().fail_transitions = 1;
  h.Tick();  // the requeue's commit fails: still SCHEDULED, placement held
  EXPECT_EQ(h.State(*id), JobState::kScheduled);
  h.Tick(3);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Row(*id).attempts, 2);
}

// Bug 4: a store error while authenticating is "unavailable" (503), not "unknown token" (401).
TEST(ControlLoop, StoreErrorInAuthenticationIsUnavailable) {
  LoopHarness h;
  h.AddSite("a", {CpuNode("c0", 4)});
  ASSERT_TRUE(h.Start().ok());
  auto tok = h.svc().InitAdminToken();
  ASSERT_TRUE(tok.ok());
  h.store().fail_find_token = 1;
  auto c = h.svc().Authenticate(*tok);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  auto again = h.svc().Authenticate(*tok);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->admin);
  auto bad = h.svc().Authenticate("cnet_nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kUnauthenticated);
}

// Bug 4: recovery that cannot read the store fails the start with the reason (never an empty
// service that silently forgot its jobs).
TEST(ControlLoop, RecoveryStoreErrorFailsStart) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.Submit("t", LoopHarness::Job(1, 1)).ok());
  h.fail_active_jobs_at_next_start();
  Status st = h.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("recovery"), std::string::npos) << st.ToString();
  ASSERT_TRUE(h.Start().ok());
  EXPECT_EQ(h.svc().state().jobs.size(), 1u);
}

// Bug 5: after a restart that re-adopts a dispatch the crash interrupted (SCHEDULED, no handle),
// the tenant's queued count is exact, never negative.
TEST(ControlLoop, InterruptedDispatchReadoptedCountsStayExact) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(id.ok());
  h.Tick();  // SCHEDULED committed, launched (inline); the outcome is not recorded yet
  ASSERT_EQ(h.State(*id), JobState::kScheduled);
  ASSERT_TRUE(h.Row(*id).runtime_json.empty());
  ASSERT_TRUE(h.Start().ok());  // "crash" before the launch was recorded
  h.Tick();
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Usage("t").queued, 0);
  EXPECT_EQ(h.Usage("t").running, 1);
  site.End(*id, 0);
  h.Tick();
  EXPECT_EQ(h.State(*id), JobState::kSucceeded);
  EXPECT_EQ(h.Usage("t").queued, 0);
  EXPECT_EQ(h.Usage("t").running, 0);
  EXPECT_EQ(site.launches().size(), 1u);  // never launched twice
}

// A policy that places a job on a node that cannot hold it: the scheduler rejects the decision.
class BadPolicy final : public Policy {
 public:
  std::string_view name() const override { return "bad"; }
  bool time_sharing() const override { return false; }
  std::vector<Decision> Decide(const Snapshot& snap, Rng&) override {
    std::vector<Decision> out;
    for (const JobRecord* j : snap.pending) {
      Decision d;
      d.action = Action::kPlace;
      d.job = j->spec.id;
      d.placement.accel = snap.cluster->nodes().front().accel;
      d.placement.slots.push_back(Slot{snap.cluster->nodes().front().id, 1000});
      d.reason = "too big on purpose";
      out.push_back(d);
    }
    return out;
  }
};

// Bug 6: rejected decisions are reported (metric, log) and never acted on.
TEST(ControlLoop, RejectedPolicyDecisionsAreCountedNotApplied) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  h.config().policy = "bad";
  PolicyRegistry reg;
  ASSERT_TRUE(reg.Register("bad", "places what cannot fit", [] { return std::unique_ptr<Policy>(new BadPolicy()); }).ok());
  ASSERT_TRUE(h.Start(&reg).ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(id.ok());
  h.Tick(2);
  EXPECT_TRUE(site.launches().empty());
  EXPECT_EQ(h.State(*id), JobState::kPending);
  EXPECT_NE(h.svc().metrics().Render().find("cnet_policy_rejected_decisions_total{policy=\"bad\"} 1"), std::string::npos)
      << h.svc().metrics().Render();
}

// Bug 10: a corrupt stored placement is a clear start-up error naming the job, not an exception.
TEST(ControlLoop, CorruptPlacementRowIsAClearError) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 4)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(2);
  ASSERT_EQ(h.State(*id), JobState::kRunning);
  store::Store::Update u;
  u.placement_json = "{\"shape\": [{\"node\": 7}]}";
  ASSERT_TRUE(h.store().Transition(*id, JobState::kRunning, "corrupted by the test", 0, u).ok());
  Status st = h.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("job " + std::to_string(*id)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("placement_json"), std::string::npos) << st.ToString();
}

TEST(ControlLoop, CancelPendingAndRunning) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 1)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto run = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(2);
  auto wait = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick();
  ASSERT_EQ(h.State(*wait), JobState::kPending);
  // The loop is not running: answer the cancel from a tick.
  auto f = h.svc().loop().Cancel({*wait}, "t");
  h.Tick();
  auto r = f.get().front();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, JobState::kCancelled);
  EXPECT_EQ(h.State(*wait), JobState::kCancelled);
  auto f2 = h.svc().loop().Cancel({*run}, "t");
  h.Tick();
  auto r2 = f2.get().front();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->state, JobState::kRunning);
  EXPECT_EQ(site.kills(), std::vector<int64_t>{*run});
  h.Tick();
  EXPECT_EQ(h.State(*run), JobState::kCancelled);
  EXPECT_EQ(h.Usage("t").queued, 0);
  EXPECT_EQ(h.Usage("t").running, 0);
}

TEST(ControlLoop, UnreachableSiteAtLaunchRequeuesTheJob) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 1)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  site.FailNextLaunch(Status(Code::kUnavailable, "connection refused"));
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(4);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
  EXPECT_EQ(h.Row(*id).attempts, 2);
  auto v = h.svc().GetJob(service::Caller{"", true}, *id, true);
  ASSERT_TRUE(v.ok());
  bool requeued = false;
  for (const auto& e : v->events)
    requeued |= e.to_state == "PENDING" && e.reason.find("a could not be reached: connection refused") != std::string::npos;
  EXPECT_TRUE(requeued);
}

TEST(ControlLoop, RefusedLaunchFailsTheJobWithTheSitesReason) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 1)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  site.FailNextLaunch(InvalidArgument("program 'x' not found"));
  auto id = h.Submit("t", LoopHarness::Job(1, 1));
  h.Tick(2);
  auto row = h.Row(*id);
  EXPECT_EQ(row.state, JobState::kFailed);
  EXPECT_NE(row.reason.find("program 'x' not found"), std::string::npos) << row.reason;
  EXPECT_EQ(h.Usage("t").queued, 0);
}

TEST(ControlLoop, StrandedJobIsWithdrawnAndRedispatched) {
  LoopHarness h;
  auto& slurm = h.AddSite("hpc", {GpuNode("n1", "H100", 8)}, SlurmLike(), 30);
  auto& local = h.AddSite("local", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto req = LoopHarness::Job(8, 1);
  auto big = h.Submit("t", req);
  h.Tick(2);
  ASSERT_EQ(slurm.launches().size() + local.launches().size(), 1u);
  auto& where = slurm.launches().empty() ? local : slurm;
  if (&where == &local) GTEST_SKIP() << "fifo-hetero chose the local site first";
  EXPECT_EQ(h.State(*big), JobState::kScheduled);
  slurm.SetReachable(false, "slurmctld: connection refused");
  h.Tick(15);  // 1.5 s: noticed, not yet stranded
  EXPECT_EQ(h.State(*big), JobState::kScheduled);
  h.clock().Advance(40);
  h.Tick(3);
  EXPECT_EQ(local.launches().size(), 1u);
  EXPECT_EQ(h.State(*big), JobState::kRunning);
  EXPECT_EQ(h.Row(*big).site, "local");
}

TEST(ControlLoop, AcceleratorQuotaHoldsThenReleases) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t", {{"H100", 2}});
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", LoopHarness::Job(2, 1, {"H100"}));
  auto b = h.Submit("t", LoopHarness::Job(2, 1, {"H100"}));
  ASSERT_TRUE(a.ok() && b.ok());
  h.Tick(2);
  EXPECT_EQ(h.State(*a), JobState::kRunning);
  EXPECT_EQ(h.State(*b), JobState::kPending);
  EXPECT_EQ(h.Usage("t").held, 1);
  auto view = h.svc().GetJob(service::Caller{"t", false}, *b, false);
  ASSERT_TRUE(view.ok());
  EXPECT_NE(view->live_reason.find("accelerator quota"), std::string::npos) << view->live_reason;
  auto big = h.Submit("t", LoopHarness::Job(3, 1, {"H100"}));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kPermissionDenied);
  site.End(*a, 0);
  h.Tick(3);
  EXPECT_EQ(h.State(*b), JobState::kRunning);
  EXPECT_EQ(h.Usage("t").held, 0);
}

TEST(ControlLoop, InfeasibleJobIsRefusedAtSubmit) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto r = h.Submit("t", LoopHarness::Job(16, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInfeasible);
  EXPECT_EQ(r.status().message().rfind("workers: ", 0), 0u) << r.status().message();
}

TEST(ControlLoop, NodesAddedAtASiteJoinTheModel) {
  LoopHarness h;
  auto& slurm = h.AddSite("hpc", {GpuNode("n1", "H100", 8)}, SlurmLike());
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", LoopHarness::Job(8, 1));
  auto b = h.Submit("t", LoopHarness::Job(8, 1));
  h.Tick(2);
  EXPECT_EQ(slurm.launches().size(), 1u);
  slurm.SetNodes({GpuNode("n1", "H100", 8), GpuNode("n2", "H100", 8)});
  h.clock().Advance(2);
  h.Tick(2);
  ASSERT_EQ(slurm.launches().size(), 2u);
  EXPECT_EQ(slurm.launches()[1].nodes.front().node, "n2");
  (void)a;
  (void)b;
}

}  // namespace
}  // namespace cnet::testing
