// Issue 10, GPU sharing in `cnet simulate`: fractional accelerators in traces, jobs that share
// accelerators, arrive, run and end; books that never over-commit an accelerator; utilisation
// and FGD fragmentation of shared accelerators.
#include <gtest/gtest.h>

#include "common/rng.h"
#include "sched/policy_registry.h"
#include "sim/outputs.h"
#include "sim/share_lane.h"
#include "sim/simulator.h"
#include "testing/policy_util.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

const PerfModel& Perf() { return testing::GavelPerf(); }

Result<SimResult> Sim(const Cluster& cl, const std::string& policy, const Workload& w, SimOptions o) {
  return Simulate(cl, Perf(), testing::BuiltinPolicy(policy), w, o);
}

const char* kHead = "job_id,submit_time_s,job_type,workers,total_steps,accelerators_per_worker";

TEST(ShareTrace, FractionOfOneAcceleratorForOneWorker) {
  auto w = ParseCsvTrace(std::string(kHead) + "\n0,5,ResNet-18 (batch size 64),1,100,0.25\n"
                         "1,0,ResNet-18 (batch size 64),1,100,2\n2,1,ResNet-18 (batch size 64),1,100,0.005\n",
                         "t.csv", Perf());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(w->HasShares());
  // Sorted by submit time, the shares follow their jobs.
  EXPECT_EQ(w->jobs[0].id, JobId(1));
  EXPECT_EQ(w->ShareMilli(0), 0);
  EXPECT_EQ(w->jobs[0].workers, 2);
  EXPECT_EQ(w->ShareMilli(1), 5);
  EXPECT_EQ(w->ShareMilli(2), 250);
  EXPECT_EQ(w->jobs[2].workers, 1);
  EXPECT_EQ(w->jobs[2].unit, 1);
  auto whole = ParseCsvTrace(std::string(kHead) + "\n0,0,ResNet-18 (batch size 64),1,100,1\n", "t.csv", Perf());
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->HasShares());
}

TEST(ShareTrace, BadFractionsNameLineAndColumn) {
  struct Case {
    std::string header, row, want;
  };
  const std::string h = kHead;
  for (const auto& c : std::vector<Case>{
           {h, "0,0,ResNet-18 (batch size 64),1,100,0.2505", "t.csv:3: field 'accelerators_per_worker': a fraction"},
           {h, "0,0,ResNet-18 (batch size 64),1,100,0.0001", "at most 3 decimals"},
           {h, "0,0,ResNet-18 (batch size 64),2,100,0.5", "t.csv:3: field 'accelerators_per_worker': a fraction of an accelerator (0.5) is for one-worker jobs"},
           {h, "0,0,ResNet-18 (batch size 64),1,100,1.25", "t.csv:3: field 'accelerators_per_worker': must be a whole number"},
           {h + ",max_workers", "0,0,ResNet-18 (batch size 64),1,100,0.5,2", "t.csv:3: field 'max_workers': a job with a fraction"},
       }) {
    auto w = ParseCsvTrace(c.header + "\n1,0,ResNet-18 (batch size 64),1,100,1" +
                               std::string(c.header == h ? "" : ",") + "\n" + c.row + "\n",
                           "t.csv", Perf());
    ASSERT_FALSE(w.ok()) << c.row;
    EXPECT_NE(w.status().message().find(c.want), std::string::npos) << w.status().message();
  }
}

class Sharing : public ::testing::Test {
 protected:
  JobTypeId t_ = *GavelMatrix().FindJobType("ResNet-18 (batch size 64)");
  Cluster one_ = Cluster::Build("one", {{"s", "r", "r", 1e9, "n", 1, Accel("V100"), 1}}, TestCatalogue()).value();
  Cluster two_gpus_ = Cluster::Build("2g", {{"s", "r", "r", 1e9, "n", 1, Accel("V100"), 2}}, TestCatalogue()).value();

  // A job that runs `alone_s` seconds on whole V100s (one worker per V100).
  JobSpec Job(int64_t id, Seconds submit, Seconds alone_s, int workers = 1) {
    JobSpec j;
    j.id = JobId(id);
    j.type_id = t_;
    j.job_type = GavelMatrix().JobTypeName(t_);
    j.submit_time_s = submit;
    j.workers = workers;
    // value(): a size the matrix has not measured throws here instead of reading an empty optional.
    j.total_steps = alone_s * GavelMatrix().Get(t_, Accel("V100"), workers, false).value();
    return j;
  }
  // jobs with their shares (0: whole).
  static Workload W(std::vector<std::pair<JobSpec, int>> jobs) {
    Workload w;
    w.source = "test";
    for (auto& [j, m] : jobs) {
      w.jobs.push_back(j);
      w.share_milli.push_back(m);
      w.lines.push_back(static_cast<int>(w.jobs.size()) + 1);
    }
    return w;
  }
  static const JobOutcome& Of(const SimResult& r, int64_t id) {
    for (const auto& j : r.jobs)
      if (j.id == id) return j;
    static JobOutcome none;
    ADD_FAILURE() << "job " << id << " did not complete";
    return none;
  }
};

TEST_F(Sharing, SharesRunAtTheirFractionAndHoldTheAcceleratorFromWholeJobs) {
  // Three quarter-GPU jobs share the one V100 (each 4x its whole-GPU time); a whole-GPU job that
  // arrives at 10 s waits although a quarter is free, and a fourth quarter arriving after it
  // (at 20 s) fits the free quarter at once.
  SimOptions o;
  o.record_jobs = true;
  o.check_invariants = true;
  Workload w = W({{Job(0, 0, 100), 250}, {Job(1, 0, 100), 250}, {Job(2, 0, 50), 250},
                  {Job(3, 10, 30), 0}, {Job(4, 20, 10), 250}});
  auto r = Sim(one_, "fifo", w, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->jobs_completed, 5u);
  EXPECT_NEAR(Of(*r, 0).end_s, 400, 1e-6);
  EXPECT_NEAR(Of(*r, 2).end_s, 200, 1e-6);
  EXPECT_NEAR(Of(*r, 4).start_s, 20, 1e-6);
  EXPECT_NEAR(Of(*r, 4).end_s, 60, 1e-6);
  EXPECT_NEAR(Of(*r, 3).start_s, 400, 1e-6);  // the whole GPU is free only when every share ended
  EXPECT_NEAR(Of(*r, 3).end_s, 430, 1e-6);
  EXPECT_EQ(Of(*r, 0).types, std::vector<std::string>{"V100"});
  // Busy time counts shares: 0.25 x (400 + 400 + 200 + 40) s + 30 s over 430 s.
  EXPECT_NEAR(r->utilization.at("V100"), (0.25 * 1040 + 30) / 430, 1e-9);
}

TEST_F(Sharing, UtilisationCountsSharesAndFgdFragmentation) {
  // A half and a quarter on a 2-GPU node; the workload's mix is {0.5, 0.25}. Best fit stacks the
  // quarter on the half-used GPU: 250 milli free there are too little for a 0.5, so 0.25 GPU is
  // fragmented for half of the mix (0.125). FGD puts it on the other GPU: nothing fragmented.
  SimOptions o;
  o.util_interval_s = 1;
  o.check_invariants = true;
  Workload w = W({{Job(0, 0, 100), 500}, {Job(1, 0, 100), 250}});
  o.share_scorer = ShareScorer::kBestFit;
  auto bf = Sim(two_gpus_, "fifo", w, o);
  o.share_scorer = ShareScorer::kFgd;
  auto fgd = Sim(two_gpus_, "fifo", w, o);
  ASSERT_TRUE(bf.ok() && fgd.ok()) << bf.status().ToString() << fgd.status().ToString();
  ASSERT_FALSE(bf->util.empty());
  const UtilSample& b = bf->util.front();
  EXPECT_EQ(b.total, 2);
  EXPECT_NEAR(b.allocated, 0.75, 1e-9);
  EXPECT_NEAR(b.idle, 1.25, 1e-9);
  EXPECT_NEAR(b.fragmented, 0.125, 1e-9);
  EXPECT_NEAR(fgd->util.front().fragmented, 0, 1e-9);
  EXPECT_NE(UtilCsv({*bf}).find("fifo,0.000,V100,2,0.750,1.250,0.125"), std::string::npos) << UtilCsv({*bf});
  // At 200 s the half has ended: the quarter's GPU has 750 free, enough for either demand.
  EXPECT_NE(UtilCsv({*bf}).find("fifo,200.000,V100,2,0.250,1.750,0\n"), std::string::npos) << UtilCsv({*bf});
  // The share's own mix, given: only whole GPUs, so every partly used GPU's free part counts.
  o.share_scorer = ShareScorer::kBestFit;
  o.share_mix = DemandMix::Parse("1:1").value();
  auto whole_mix = Sim(two_gpus_, "fifo", w, o);
  ASSERT_TRUE(whole_mix.ok());
  EXPECT_NEAR(whole_mix->util.front().fragmented, 0.25, 1e-9);
}

// A random mix of shares and whole-GPU gangs on 3 nodes x 4 GPUs, arriving over time: every
// policy kind and both scorers run it to the end with the books checked after every event.
TEST_F(Sharing, RandomMixRunsToCompletionWithoutOverCommitUnderEveryScorerAndPolicy) {
  Cluster cl = Cluster::Build("3x4", {{"s", "r", "r", 1e9, "n", 3, Accel("V100"), 4}}, TestCatalogue()).value();
  Rng rng(7);
  std::vector<std::pair<JobSpec, int>> jobs;
  const int shares[] = {100, 250, 250, 500, 750};
  const int gangs[] = {1, 2, 4};  // the sizes Gavel's matrix measures (3 read an empty optional: UB)
  for (int i = 0; i < 80; ++i) {
    const bool share = rng.Bernoulli(0.7);
    const int workers = share ? 1 : gangs[rng.UniformInt(0, 2)];
    jobs.push_back({Job(i, i * 20.0, rng.Uniform(50, 400), workers),
                    share ? shares[rng.UniformInt(0, 4)] : 0});
  }
  Workload w = W(jobs);
  for (const char* policy : {"fifo", "backfill", "las", "las-hetero"}) {
    for (ShareScorer s : {ShareScorer::kBestFit, ShareScorer::kFgd}) {
      SimOptions o;
      o.round_s = 60;
      o.check_invariants = true;
      o.util_interval_s = 30;
      o.share_scorer = s;
      auto r = Sim(cl, policy, w, o);
      ASSERT_TRUE(r.ok()) << policy << "/" << ShareScorerName(s) << ": " << r.status().ToString();
      EXPECT_EQ(r->jobs_completed, 80u) << policy;
      if (std::string(policy) == "las") EXPECT_GT(r->preemptions, 0u);  // whole jobs move under the shares
      for (const UtilSample& u : r->util) {
        EXPECT_GE(u.allocated, -1e-9);
        EXPECT_NEAR(u.allocated + u.idle, u.total, 1e-9);
        EXPECT_LE(u.fragmented, u.idle + 1e-9);
      }
    }
  }
}

TEST_F(Sharing, FractionalGangIsRefusedNamingTheLine) {
  JobSpec j = Job(0, 0, 10, 2);
  auto r = Sim(two_gpus_, "fifo", W({{j, 500}}), SimOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("test:2: field 'accelerators_per_worker'"), std::string::npos)
      << r.status().message();
}

// The checker itself: books that disagree with the jobs are reported, naming node and GPU.
TEST_F(Sharing, CheckReportsBooksThatDisagree) {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  Scheduler sched(one_, Perf(), std::move(reg.Create("fifo")).value(), SchedulerOptions{});
  Placement p;
  p.accel = Accel("V100");
  p.slots.push_back(Slot{one_.nodes().front().id, 1});
  {
    ShareLane lane(one_, ShareScorer::kBestFit, DemandMix::Parse("1:1").value());
    EXPECT_TRUE(lane.Check(sched.capacity()).ok());
    lane.TakeWhole(JobId(1), p);  // the scheduler never took it
    Status st = lane.Check(sched.capacity());
    EXPECT_NE(st.message().find("node s/r/n-0"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("1 free accelerators, the jobs leave 0 unheld"), std::string::npos) << st.message();
  }
  {
    ShareLane lane(one_, ShareScorer::kBestFit, DemandMix::Parse("1:1").value());
    lane.TakeWhole(JobId(1), p);
    lane.TakeWhole(JobId(2), p);  // a second whole job on the same GPU
    Status st = lane.Check(sched.capacity());
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("has only 0 unshared"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace cnet
