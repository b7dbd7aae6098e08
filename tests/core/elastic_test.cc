// Elastic jobs (issue 10): sizes, admission, the scheduler's size check, and elastic-hetero's
// choices of type and gang size.
#include <gtest/gtest.h>

#include <cmath>

#include "sched/elastic_sizes.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/elastic_variant.h"
#include "sim/simulator.h"
#include "sim/trace.h"
#include "testing/policy_util.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

// One job type "J" on V100 and K80 whose throughput scales at 90% per doubling; "C" (for
// communication-bound) gains nothing past one worker.
const ThroughputMatrix& Matrix() {
  static const ThroughputMatrix* m = [] {
    std::string csv = "job_type,accelerator,workers,steps_per_second\n";
    for (int w = 1; w <= 16; w *= 2) {
      const double s = w * std::pow(0.9, std::log2(w));
      csv += "J,V100," + std::to_string(w) + "," + std::to_string(10 * s) + "\n";
      csv += "J,K80," + std::to_string(w) + "," + std::to_string(2 * s) + "\n";
      csv += "C,V100," + std::to_string(w) + ",10\n";
    }
    // U scales unevenly: 2 workers barely beat 1, 8 are 7x faster (Gavel's Transformer at batch 16
    // on V100 has this shape). A gains little from V100 over K80, B a lot.
    csv += "U,V100,1,10\nU,V100,2,11\nU,V100,4,20\nU,V100,8,70\n";
    csv += "A,V100,1,10\nA,K80,1,9\nB,V100,1,10\nB,K80,1,2\n";
    // Z cannot run 3 workers on V100 (a measured 0); K80 keeps size 3 among Z's sizes.
    csv += "Z,V100,1,10\nZ,V100,2,18\nZ,V100,3,0\nZ,V100,4,30\nZ,K80,1,2\nZ,K80,2,3.6\nZ,K80,3,5\nZ,K80,4,6\n";
    auto r = ThroughputMatrix::ParseCsv(csv, "elastic.csv", TestCatalogue());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new ThroughputMatrix(std::move(r).value());
  }();
  return *m;
}
const PerfModel& Perf() {
  static const PerfModel p(TestCatalogue(), Matrix());
  return p;
}
// One node of 8 V100 (and, with k80, one of 8 K80).
Cluster OneNode(bool k80 = false) {
  std::vector<Cluster::GroupSpec> g = {{"s", "r", "v", 1e9, "v", 1, Accel("V100"), 8}};
  if (k80) g.push_back({"s", "r", "k", 1e9, "k", 1, Accel("K80"), 8});
  return std::move(Cluster::Build("one", g, TestCatalogue())).value();
}
std::unique_ptr<Policy> Pol(const std::string& n) { return testing::BuiltinPolicy(n); }
JobSpec Elastic(int64_t id, int lo, int w, int hi, const std::string& type = "J") {
  JobSpec j;
  j.id = JobId(id);
  j.job_type = type;
  j.workers = w;
  j.min_workers = lo;
  j.max_workers = hi;
  j.total_steps = 1e6;
  return j;
}
int SizeOf(const Scheduler& s, int64_t id) {
  const JobRecord* r = s.Find(JobId(id));
  return r && r->phase == JobPhase::kRunning ? r->placement.Workers() : 0;
}

// Job 1 (elastic 1..8) alone on the node at time 0, then job 2 (the same) arrives at 360: the
// cycle at 360 and its result.
CycleResult NewcomerAt360(Scheduler& s, Rng& rng) {
  EXPECT_TRUE(s.Admit(Elastic(1, 1, 2, 8)).ok());
  s.RunCycle(0, true, rng);
  EXPECT_EQ(SizeOf(s, 1), 8);
  JobSpec b = Elastic(2, 1, 2, 8);
  b.submit_time_s = 360;
  EXPECT_TRUE(s.Admit(b).ok());
  return s.RunCycle(360, true, rng);
}

TEST(ElasticSizes, AllMultiplesOfTheUnitInASmallRange) {
  JobSpec j = Elastic(1, 2, 4, 8);
  j.unit = 2;
  EXPECT_EQ(ElasticSizes(j), (std::vector<int>{2, 4, 6, 8}));
}

TEST(ElasticSizes, AWideRangeIsThinnedButKeepsTheBoundsAndTheDeclaredSize) {
  JobSpec j = Elastic(1, 3, 24, 4096);
  auto s = ElasticSizes(j);
  EXPECT_LE(s.size(), kMaxElasticSizes);
  EXPECT_EQ(s.front(), 3);
  EXPECT_EQ(s.back(), 4096);
  EXPECT_NE(std::find(s.begin(), s.end(), 24), s.end());
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
}

TEST(ElasticAdmission, InconsistentRangesAreRefusedNamingTheField) {
  Cluster cl = OneNode();
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
  JobField f = JobField::kNone;
  auto r = s.Prepare(Elastic(1, 4, 2, 8), &f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(f, JobField::kWorkers);
  EXPECT_NE(r.status().message().find("min_workers"), std::string::npos) << r.status().message();
  r = s.Prepare(Elastic(2, 1, 4, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_workers"), std::string::npos) << r.status().message();
  JobSpec untyped = Elastic(3, 1, 2, 4, "");
  r = s.Prepare(untyped);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("job_type"), std::string::npos) << r.status().message();
}

TEST(ElasticAdmission, SizesNoSiteHoldsAreDroppedAndRatesComeFromTheModel) {
  Cluster cl = OneNode();
  Scheduler s(cl, Perf(), Pol("fifo"), {});
  auto r = s.Prepare(Elastic(1, 1, 2, 12));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sizes, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));  // 9..12: more than the site has
  const auto t = *Matrix().FindJobType("J");
  for (int w : {1, 3, 8})
    EXPECT_DOUBLE_EQ(r->RateAt(Accel("V100"), w, 1), Perf().Throughput(t, Accel("V100"), w, 1).steps_per_s) << w;
  EXPECT_EQ(r->RateAt(Accel("V100"), 12, 1), 0);
}

// The scheduler takes a placement of any of the job's sizes, and no other.
TEST(ElasticScheduler, AcceptsOnlyTheJobsSizes) {
  class PlaceAt final : public Policy {
   public:
    explicit PlaceAt(int w) : w_(w) {}
    std::string_view name() const override { return "place-at"; }
    bool time_sharing() const override { return false; }
    std::vector<Decision> Decide(const Snapshot& s, Rng&) override {
      std::vector<Decision> out;
      for (const JobRecord* j : s.pending)
        out.push_back({Action::kPlace, j->spec.id, Placement{Accel("V100"), {{NodeId(0), w_}}}, "test"});
      return out;
    }

   private:
    int w_;
  };
  Cluster cl = OneNode();
  for (auto [w, ok] : {std::pair{3, true}, std::pair{8, true}, std::pair{2, true}}) {
    Scheduler s(cl, Perf(), std::make_unique<PlaceAt>(w), {});
    ASSERT_TRUE(s.Admit(Elastic(1, 2, 4, 8)).ok());
    Rng rng(1);
    CycleResult c = s.RunCycle(0, true, rng);
    EXPECT_EQ(c.rejected.empty(), ok) << w;
    EXPECT_EQ(SizeOf(s, 1), w);
    EXPECT_DOUBLE_EQ(s.Find(JobId(1))->rate_now, s.Find(JobId(1))->RateAt(Accel("V100"), w, 1));
  }
  Scheduler s(cl, Perf(), std::make_unique<PlaceAt>(1), {});
  ASSERT_TRUE(s.Admit(Elastic(1, 2, 4, 8)).ok());
  Rng rng(1);
  CycleResult c = s.RunCycle(0, true, rng);
  ASSERT_EQ(c.rejected.size(), 1u);
  EXPECT_NE(c.rejected[0].find("elastic sizes"), std::string::npos) << c.rejected[0];
}

TEST(ElasticHetero, AJobAloneGrowsToWhatScalesAndARigidJobKeepsItsSize) {
  Cluster cl = OneNode();
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(s.Admit(Elastic(1, 1, 2, 8)).ok());
  Rng rng(1);
  s.RunCycle(0, true, rng);
  EXPECT_EQ(SizeOf(s, 1), 8);  // 90% per doubling: every step is worth its accelerators
  Scheduler c(cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(c.Admit(Elastic(2, 1, 2, 8, "C")).ok());  // no gain past one worker
  c.RunCycle(0, true, rng);
  EXPECT_EQ(SizeOf(c, 2), 1);
  JobSpec rigid = Elastic(3, 0, 4, 0);
  Scheduler r(cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(r.Admit(rigid).ok());
  r.RunCycle(0, true, rng);
  EXPECT_EQ(SizeOf(r, 3), 4);
}

// A second job arrives on a full node: the first shrinks (through checkpoint/restart) so that
// both run, and the node stays full.
TEST(ElasticHetero, ShrinksForANewcomerAndSharesTheNode) {
  Cluster cl = OneNode();
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
  Rng rng(1);
  CycleResult c = NewcomerAt360(s, rng);
  EXPECT_TRUE(c.rejected.empty());
  EXPECT_GE(SizeOf(s, 1), 1);
  EXPECT_GE(SizeOf(s, 2), 1);
  EXPECT_EQ(SizeOf(s, 1) + SizeOf(s, 2), 8);
  EXPECT_EQ(s.Find(JobId(1))->preemptions, 1);  // the resize is a restart
}

// As the service runs it: a preempted gang keeps its accelerators until its run has stopped
// (ReleaseStopped); meanwhile nothing is placed on them and the resized job is not offered to the
// policy, and the places that waited for them are deferred, not rejected as a policy's error.
TEST(ElasticHetero, APreemptedGangIsHeldUntilItsRunStopped) {
  Cluster cl = OneNode();
  SchedulerOptions o;
  o.preempted_hold_until_stopped = true;
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), o);
  Rng rng(1);
  CycleResult c = NewcomerAt360(s, rng);
  EXPECT_TRUE(c.rejected.empty()) << c.rejected.front();
  ASSERT_EQ(c.applied.size(), 1u);  // the preemption only
  EXPECT_EQ(c.applied[0].action, Action::kPreempt);
  EXPECT_NE(c.applied[0].reason.find("resizing from 8 to"), std::string::npos) << c.applied[0].reason;
  EXPECT_FALSE(c.deferred.empty());
  EXPECT_TRUE(s.Stopping(JobId(1)));
  EXPECT_EQ(s.capacity().FreeOfType(Accel("V100")), 0);  // still held by the stopping run
  EXPECT_EQ(SizeOf(s, 2), 0);
  c = s.RunCycle(361, true, rng);  // stopping still: nothing moves
  EXPECT_TRUE(c.applied.empty());
  EXPECT_TRUE(c.rejected.empty());
  ASSERT_TRUE(s.ReleaseStopped(JobId(1)).ok());
  EXPECT_EQ(s.ReleaseStopped(JobId(1)).code(), Code::kNotFound);
  c = s.RunCycle(362, true, rng);
  EXPECT_TRUE(c.rejected.empty());
  EXPECT_GE(SizeOf(s, 1), 1);
  EXPECT_GE(SizeOf(s, 2), 1);
  EXPECT_EQ(SizeOf(s, 1) + SizeOf(s, 2), 8);
}

// Between rounds, with fill_between_rounds, a job that arrives starts on free accelerators at
// once; running gangs are not touched until the next round.
TEST(ElasticHetero, BetweenRoundsNewJobsFillFreeCapacityOnly) {
  Cluster cl = OneNode();
  for (bool fill : {false, true}) {
    SchedulerOptions o;
    o.fill_between_rounds = fill;
    Scheduler s(cl, Perf(), Pol("elastic-hetero"), o);
    ASSERT_TRUE(s.Admit(Elastic(1, 0, 4, 0)).ok());  // rigid 4
    Rng rng(1);
    s.RunCycle(0, true, rng);
    ASSERT_EQ(SizeOf(s, 1), 4);
    ASSERT_TRUE(s.Admit(Elastic(2, 1, 2, 8)).ok());
    ASSERT_TRUE(s.Admit(Elastic(3, 0, 8, 0)).ok());  // rigid 8: waits (no preemption between rounds)
    CycleResult c = s.RunCycle(10, false, rng);
    for (const Decision& d : c.applied) EXPECT_EQ(d.action, Action::kPlace) << d.reason;
    EXPECT_EQ(SizeOf(s, 1), 4) << "fill " << fill;
    EXPECT_EQ(SizeOf(s, 2), fill ? 4 : 0) << "fill " << fill;  // grows into what is free
    EXPECT_EQ(SizeOf(s, 3), 0) << "fill " << fill;
  }
}

// The restore cost is what a change is weighed against: a job whose restore takes longer than
// the horizon keeps its gang when room appears; with a free restore it grows.
TEST(ElasticHetero, ARestoreCostlierThanTheGainKeepsTheGang) {
  Cluster cl = OneNode();
  for (double restore : {0.0, 1e6}) {
    Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
    JobSpec a = Elastic(1, 1, 2, 8);
    a.restore_s = restore;
    JobSpec b = Elastic(2, 0, 6, 0);  // rigid, short: leaves room when it ends
    b.total_steps = 10;
    ASSERT_TRUE(s.Admit(a).ok());
    ASSERT_TRUE(s.Admit(b).ok());
    Rng rng(1);
    s.RunCycle(0, true, rng);
    ASSERT_EQ(SizeOf(s, 2), 6);
    ASSERT_EQ(SizeOf(s, 1), 2);
    s.Complete(JobId(2), 10);
    s.RunCycle(360, true, rng);
    EXPECT_EQ(SizeOf(s, 1), restore > 0 ? 2 : 8) << "restore " << restore;
  }
}

// A job whose next size barely helps still grows back to its declared size when a larger jump
// pays (it once stayed at its minimum for 700 simulated hours).
TEST(ElasticHetero, GrowsPastAnUnevenStepToItsDeclaredSize) {
  Cluster cl = OneNode();
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(s.Admit(Elastic(1, 1, 8, 8, "U")).ok());
  Rng rng(1);
  s.RunCycle(0, true, rng);
  EXPECT_EQ(SizeOf(s, 1), 8);
}

// One V100 and one K80: the job that gains most from the V100 gets it, whatever the service order.
TEST(ElasticHetero, TheJobThatGainsMostGetsTheFastType) {
  auto cl = Cluster::Build("two", {{"s", "r", "v", 1e9, "v", 1, Accel("V100"), 1},
                                   {"s", "r", "k", 1e9, "k", 1, Accel("K80"), 1}}, TestCatalogue());
  ASSERT_TRUE(cl.ok());
  Scheduler s(*cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(s.Admit(Elastic(1, 0, 1, 0, "A")).ok());  // first in service order
  ASSERT_TRUE(s.Admit(Elastic(2, 0, 1, 0, "B")).ok());
  Rng rng(1);
  s.RunCycle(0, true, rng);
  ASSERT_EQ(SizeOf(s, 1), 1);
  ASSERT_EQ(SizeOf(s, 2), 1);
  EXPECT_EQ(s.Find(JobId(2))->placement.accel, Accel("V100"));
  EXPECT_EQ(s.Find(JobId(1))->placement.accel, Accel("K80"));
}

// A start that finds no node for its planned size falls back to smaller sizes, but never to one
// the job cannot run on that type (the Gavel multi-GPU run hit "job cannot run on that type").
TEST(ElasticHetero, FallsBackOnlyToSizesThatRunOnTheType) {
  auto cl = Cluster::Build("frag", {{"s", "r", "v", 1e9, "v", 2, Accel("V100"), 4},
                                    {"s", "r", "k", 1e9, "k", 1, Accel("K80"), 4}}, TestCatalogue());
  ASSERT_TRUE(cl.ok());
  Scheduler s(*cl, Perf(), Pol("elastic-hetero"), {});
  // One busy V100 on each node: 6 free, but no node with 4.
  for (int i = 0; i < 2; ++i) {
    JobSpec r = Elastic(10 + i, 0, 1, 0);
    ASSERT_TRUE(s.AdoptRunning(r, Placement{Accel("V100"), {{NodeId(i), 1}}}, 0, 0).ok());
  }
  ASSERT_TRUE(s.Admit(Elastic(1, 1, 4, 4, "Z")).ok());
  ASSERT_EQ(s.Find(JobId(1))->sizes, (std::vector<int>{1, 2, 3, 4}));
  Rng rng(1);
  CycleResult c = s.RunCycle(0, true, rng);
  EXPECT_TRUE(c.rejected.empty()) << c.rejected.front();
  EXPECT_EQ(SizeOf(s, 1), 2);
  EXPECT_EQ(s.Find(JobId(1))->placement.accel, Accel("V100"));
}

TEST(ElasticHetero, PicksTheTypeWhereTheJobRunsFastest) {
  Cluster cl = OneNode(true);
  Scheduler s(cl, Perf(), Pol("elastic-hetero"), {});
  ASSERT_TRUE(s.Admit(Elastic(1, 1, 1, 4)).ok());
  Rng rng(1);
  s.RunCycle(0, true, rng);
  ASSERT_NE(s.Find(JobId(1))->phase, JobPhase::kPending);
  EXPECT_EQ(s.Find(JobId(1))->placement.accel, Accel("V100"));
  EXPECT_EQ(SizeOf(s, 1), 4);
}

TEST(ElasticTrace, ColumnsAreReadAndCheckedWithTheirLine) {
  std::string head = "job_id,submit_time_s,job_type,workers,total_steps,min_workers,max_workers\n";
  auto w = ParseCsvTrace(head + "1,0,J,2,100,1,4\n2,0,J,2,100,,\n", "t.csv", Perf());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->jobs[0].MinWorkers(), 1);
  EXPECT_EQ(w->jobs[0].MaxWorkers(), 4);
  EXPECT_FALSE(w->jobs[1].Elastic());
  auto bad = ParseCsvTrace(head + "1,0,J,2,100,1,4\n2,0,J,2,100,3,4\n", "t.csv", Perf());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.csv:3"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("min_workers"), std::string::npos) << bad.status().message();
  auto per = ParseCsvTrace("job_id,submit_time_s,job_type,workers,total_steps,accelerators_per_worker,max_workers\n"
                           "1,0,J,2,100,2,3\n", "t.csv", Perf());
  ASSERT_TRUE(per.ok()) << per.status().ToString();
  EXPECT_EQ(per->jobs[0].MaxWorkers(), 6);  // workers, times the packages per worker
}

TEST(ElasticVariant, ParsesTheRangeAndLeavesDeclaredRangesAlone) {
  EXPECT_FALSE(ParseElasticRange("2").ok());
  EXPECT_FALSE(ParseElasticRange("0:2").ok());
  EXPECT_FALSE(ParseElasticRange("1:0.5").ok());
  auto r = ParseElasticRange("1:2x");
  ASSERT_TRUE(r.ok());
  Workload w;
  w.jobs = {Elastic(1, 0, 4, 0), Elastic(2, 2, 3, 5)};
  w.jobs[0].unit = 2;
  MakeElastic(&w, *r);
  EXPECT_EQ(w.jobs[0].min_workers, 2);  // one worker of 2 packages
  EXPECT_EQ(w.jobs[0].max_workers, 8);
  EXPECT_EQ(w.jobs[1].min_workers, 2);
  EXPECT_EQ(w.jobs[1].max_workers, 5);
}

// The simulator runs elastic jobs to completion, within their ranges, and flags sizes the
// matrix did not measure as predicted.
TEST(ElasticSim, EveryJobFinishesInItsRange) {
  Cluster cl = OneNode(true);
  Workload w;
  w.source = "test";
  for (int i = 0; i < 12; ++i) {
    JobSpec j = Elastic(i, 1, 1 + i % 4, 2 * (1 + i % 4));
    j.submit_time_s = 200.0 * i;
    j.total_steps = 20000 + 3000 * i;
    w.jobs.push_back(j);
  }
  w.lines.assign(w.jobs.size(), 0);
  SimOptions o;
  o.record_jobs = true;
  o.preempt_penalty_s = 30;
  auto r = Simulate(cl, Perf(), Pol("elastic-hetero"), w, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->jobs_completed, w.jobs.size());
  bool predicted = false;
  for (const auto& j : r->jobs) predicted |= j.predicted;
  EXPECT_TRUE(predicted) << "sizes 3, 5, 6, 7 are not in the matrix";
}

}  // namespace
}  // namespace cnet
