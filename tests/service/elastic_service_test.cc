// Elastic jobs in the service (issue 10): elastic-hetero resizes a running job through the
// checkpoint/restart contract of docs/elastic.md: its run is stopped (a requeue mark first), it is
// PREEMPTED, and a new attempt starts at the new size; the accelerators of the stopping run are
// never given to another job before it has stopped. The control loop on a fake site, tick by tick.
#include <gtest/gtest.h>

#include <map>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

// "train" scales at 90% per added worker on V100; measured at 1, 2 and 4.
constexpr char kMatrix[] =
    "job_type,accelerator,workers,steps_per_second\n"
    "train,V100,1,10\ntrain,V100,2,19\ntrain,V100,4,36\n";

api::JobRequest Train(int workers, int lo = 0, int hi = 0) {
  api::JobRequest r = LoopHarness::Job(workers, 1, {"V100"});
  r.job_type = "train";
  r.min_workers = lo;
  r.max_workers = hi;
  r.estimated_duration_s = 3600;
  return r;
}

// One node of 4 V100 under elastic-hetero, 5-s rounds, free restarts.
class ElasticService : public ::testing::Test {
 protected:
  void SetUp() override {
    site_ = &h_.AddSite("a", {GpuNode("g0", "V100", 4)});
    h_.AddTenant("t");
    h_.config().policy = "elastic-hetero";
    h_.config().round_s = 5;
    h_.config().restore_s = 0;
    h_.SetThroughputs(kMatrix);
    Status st = h_.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Job a (2 workers, elastic 1..4) alone on the node: it runs as 4.
  int64_t RunAlone() {
    auto a = h_.Submit("t", Train(2, 1, 4));
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    h_.Tick(3);
    EXPECT_EQ(site_->launches().size(), 1u);
    if (!a.ok()) return 0;
    EXPECT_EQ(h_.State(*a), JobState::kRunning);
    return *a;
  }

  LoopHarness h_;
  backends::FakeBackend* site_ = nullptr;
};

// Workers of the runs the site holds now (each job's latest launch).
int BusyWorkers(const backends::FakeBackend& site) {
  std::map<int64_t, int> latest;
  for (const auto& l : site.launches()) latest[l.job_id] = l.workers();
  int busy = 0;
  for (int64_t id : site.active()) busy += latest[id];
  return busy;
}

TEST_F(ElasticService, AResizeStopsTheRunThenStartsANewAttemptAtTheNewSize) {
  LoopHarness& h = h_;
  auto& site = *site_;
  const int64_t a = RunAlone();
  ASSERT_GT(a, 0);
  EXPECT_EQ(site.launches()[0].workers(), 4);  // alone: grows to its maximum, where it scales

  auto b = h.Submit("t", Train(2));  // rigid, 2 GPUs: none free
  ASSERT_TRUE(b.ok());
  h.Tick(3);  // between rounds: nothing is preempted, b waits
  EXPECT_TRUE(site.kills().empty());
  EXPECT_EQ(h.State(*b), JobState::kPending);

  for (int i = 0; i < 80 && site.launches().size() < 3; ++i) {  // the next round: a shrinks for b
    h.Tick();
    EXPECT_LE(BusyWorkers(site), 4) << "tick " << i << ": more GPUs in use than the node has";
  }
  ASSERT_EQ(site.kills(), std::vector<int64_t>{a});
  ASSERT_EQ(site.launches().size(), 3u);
  std::map<int64_t, backends::LaunchRequest> last;
  for (const auto& l : site.launches()) last[l.job_id] = l;
  EXPECT_EQ(last[a].workers(), 2);
  EXPECT_EQ(last[a].attempt, 2);
  EXPECT_EQ(last[*b].workers(), 2);
  h.Tick(2);
  EXPECT_EQ(h.State(a), JobState::kRunning);
  EXPECT_EQ(h.State(*b), JobState::kRunning);
  EXPECT_EQ(h.Row(a).attempts, 2);
  auto v = h.svc().GetJob(service::Caller{"", true}, a, true);
  ASSERT_TRUE(v.ok());
  bool preempted = false;
  for (const auto& e : v->events)
    if (e.to_state == "PREEMPTED") {
      preempted = true;
      EXPECT_NE(e.reason.find("resizing from 4 to 2 (checkpoint/restart)"), std::string::npos) << e.reason;
    }
  EXPECT_TRUE(preempted) << "no PREEMPTED event";

  site.End(*b, 0);  // b ends: at the next round a grows back
  for (int i = 0; i < 80 && site.launches().size() < 4; ++i) {
    h.Tick();
    EXPECT_LE(BusyWorkers(site), 4) << "tick " << i;
  }
  ASSERT_EQ(site.launches().size(), 4u);
  EXPECT_EQ(site.launches().back().job_id, a);
  EXPECT_EQ(site.launches().back().workers(), 4);
  EXPECT_EQ(site.launches().back().attempt, 3);
}

// A job cancelled while its resize stops its run ends CANCELLED (not PREEMPTED, never restarted);
// the accelerators it held go to the job that waited.
TEST_F(ElasticService, ACancelWhileAResizeStopsTheRunEndsTheJob) {
  LoopHarness& h = h_;
  auto& site = *site_;
  const int64_t a = RunAlone();
  ASSERT_GT(a, 0);
  auto b = h.Submit("t", Train(4));  // rigid 4: a must shrink... to nothing, or b waits
  auto c = h.Submit("t", Train(2));
  ASSERT_TRUE(b.ok() && c.ok());
  for (int i = 0; i < 80 && site.kills().empty(); ++i) h.Tick();
  ASSERT_EQ(site.kills(), std::vector<int64_t>{a});  // the round preempted a; its end is not in yet
  auto cancel = h.svc().loop().Cancel({a}, "t");
  h.Tick();
  ASSERT_TRUE(cancel.get().front().ok());
  h.Tick(3);
  EXPECT_EQ(h.State(a), JobState::kCancelled);
  for (const auto& l : site.launches()) EXPECT_FALSE(l.job_id == a && l.attempt > 1) << "a restarted";
  EXPECT_LE(BusyWorkers(site), 4);
  EXPECT_EQ(BusyWorkers(site), 4);  // what a held went to the waiting jobs
}

TEST_F(ElasticService, ARangeNeedsAJobTypeAndMustHoldTheDeclaredSize) {
  LoopHarness& h = h_;
  api::JobRequest r = Train(2, 1, 4);
  r.job_type.clear();
  auto s = h.Submit("t", r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("min_workers: an elastic job needs a job_type", 0), 0u) << s.status().ToString();
  auto body = api::ParseJobRequest("name: x\ncommand: 'true'\nworkers: 2\nmin_workers: 3\n", api::BodyFormat::kYaml, {});
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("min_workers"), std::string::npos) << body.status().ToString();
  auto ok = api::ParseJobRequest("{\"name\":\"x\",\"command\":\"true\",\"workers\":2,\"min_workers\":1,\"max_workers\":8}",
                                 api::BodyFormat::kJson, {});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->min_workers, 1);
  EXPECT_EQ(ok->max_workers, 8);
  EXPECT_EQ(api::ToJson(*ok)["max_workers"], 8);
}

}  // namespace
}  // namespace cnet::testing

namespace cnet::testing {
namespace {

// A round comes on time even when nothing else makes the loop run a cycle (it once waited for the
// periodic 5-s cycle): with 2-s rounds, the resize for a newcomer is ordered within a tick of the round.
TEST(ElasticServiceRounds, ARoundComesOnTimeWithoutOtherWork) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "V100", 4)});
  h.AddTenant("t");
  h.config().policy = "elastic-hetero";
  h.config().round_s = 2;
  h.config().restore_s = 0;
  h.SetThroughputs(kMatrix);
  ASSERT_TRUE(h.Start().ok());
  auto a = h.Submit("t", Train(2, 1, 4));
  ASSERT_TRUE(a.ok());
  h.Tick(3);
  ASSERT_EQ(site.launches().size(), 1u);
  const double first = h.clock().Now();
  ASSERT_TRUE(h.Submit("t", Train(2)).ok());
  while (site.kills().empty() && h.clock().Now() < first + 10) h.Tick();
  ASSERT_FALSE(site.kills().empty());
  EXPECT_LE(h.clock().Now() - first, 2.2) << "the resize waited for a periodic cycle, not the round";
}

}  // namespace
}  // namespace cnet::testing
