// Issue 10 items 5 and 6: trace columns (accelerators_per_worker, restore costs), per-job output
// and the utilisation time series of the simulator.
#include <gtest/gtest.h>

#include <fstream>

#include "sched/policy_registry.h"
#include "sim/outputs.h"
#include "sim/simulator.h"
#include "testing/policy_util.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

const PerfModel& Perf() { return testing::GavelPerf(); }

SimResult RunSimulation(const Cluster& cl, const std::string& policy, const Workload& w, SimOptions o = {}) {
  auto res = Simulate(cl, Perf(), testing::BuiltinPolicy(policy), w, o);
  EXPECT_TRUE(res.ok()) << res.status().ToString();
  return res.ok() ? std::move(res).value() : SimResult{};
}

class SimOut : public ::testing::Test {
 protected:
  JobTypeId t_ = *GavelMatrix().FindJobType("ResNet-18 (batch size 64)");
  double rate_ = *GavelMatrix().Get(t_, Accel("V100"), 1, false);
  Cluster one_ = Cluster::Build("one", {{"s", "r", "r", 1e9, "n", 1, Accel("V100"), 1}}, TestCatalogue()).value();
  // Two nodes of two V100 each.
  Cluster two_ = Cluster::Build("two", {{"s", "r", "r", 1e9, "n", 2, Accel("V100"), 2}}, TestCatalogue()).value();

  // A job that runs `alone_s` seconds on `workers` V100s (the measured rate, any gang size).
  JobSpec Job(int64_t id, Seconds submit, Seconds alone_s, int workers = 1, int unit = 1) {
    JobSpec j;
    j.id = JobId(id);
    j.type_id = t_;
    j.job_type = GavelMatrix().JobTypeName(t_);
    j.submit_time_s = submit;
    j.workers = workers;
    j.unit = unit;
    j.total_steps = alone_s * *GavelMatrix().Get(t_, Accel("V100"), workers, false);
    return j;
  }
  static Workload W(std::vector<JobSpec> jobs) {
    Workload w;
    w.source = "test";
    w.jobs = std::move(jobs);
    w.lines.assign(w.jobs.size(), 0);
    return w;
  }
};

TEST_F(SimOut, JobsOutHasStartEndTypesAndPreemptions) {
  SimOptions o;
  o.record_jobs = true;
  SimResult r = RunSimulation(one_, "fifo", W({Job(0, 0, 100), Job(1, 10, 50)}), o);
  ASSERT_EQ(r.jobs.size(), 2u);
  const JobOutcome& b = r.jobs[1];
  EXPECT_EQ(b.id, 1);
  EXPECT_NEAR(b.submit_s, 10, 1e-9);
  EXPECT_NEAR(b.start_s, 100, 1e-6);
  EXPECT_NEAR(b.end_s, 150, 1e-6);
  EXPECT_EQ(b.types, std::vector<std::string>{"V100"});
  EXPECT_EQ(b.max_nodes, 1);
  EXPECT_EQ(b.preemptions, 0);
  EXPECT_FALSE(b.predicted);
  std::string csv = JobsCsv({r});
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "policy,job_id,submit_s,start_s,end_s,jct_s,types,nodes,preemptions,predicted");
  EXPECT_NE(csv.find("fifo,1,10.000,100.000,150.000,140.000,V100,1,0,0"), std::string::npos) << csv;

  o.round_s = 10;
  SimResult ts = RunSimulation(one_, "las", W({Job(0, 0, 100), Job(1, 0, 100)}), o);
  int pre = 0;
  for (const auto& j : ts.jobs) pre += j.preemptions;
  EXPECT_EQ(static_cast<size_t>(pre), ts.preemptions);
  EXPECT_GT(pre, 5);
}

TEST_F(SimOut, JobsOutFlagsPredictedThroughputs) {
  // 3 workers: Gavel measured 1, 2, 4 and 8, so a 3-GPU gang runs at a predicted rate.
  SimOptions o;
  o.record_jobs = true;
  JobSpec j = Job(0, 0, 100, 2);
  j.workers = 3;
  SimResult r = RunSimulation(two_, "fifo", W({j}), o);
  ASSERT_EQ(r.jobs.size(), 1u);
  EXPECT_TRUE(r.jobs[0].predicted);
  EXPECT_EQ(r.jobs[0].max_nodes, 2);
}

TEST_F(SimOut, UtilisationSeriesShowsFragmentedIdleAccelerators) {
  // Two 1-GPU jobs on each node; the short ones end at 10 s, leaving one free GPU on each node.
  // At 50 s a job of one worker with 2 GPUs (on one node) arrives: 2 GPUs idle, and both unusable.
  SimOptions o;
  o.util_interval_s = 1;
  Workload w = W({Job(0, 0, 100), Job(1, 0, 10), Job(2, 0, 100), Job(3, 0, 10), Job(4, 50, 10, 2, 2)});
  SimResult r = RunSimulation(two_, "fifo", w, o);
  auto at = [&](double t) {
    for (const auto& u : r.util)
      if (std::abs(u.t - t) < 1e-6) return u;
    ADD_FAILURE() << "no sample at " << t;
    return UtilSample{};
  };
  EXPECT_EQ(at(0).allocated, 4);
  EXPECT_EQ(at(0).idle, 0);
  UtilSample s10 = at(10);
  EXPECT_EQ(s10.allocated, 2);
  EXPECT_EQ(s10.idle, 2);
  EXPECT_EQ(s10.fragmented, 0);  // nothing waits
  UtilSample s50 = at(50);
  EXPECT_EQ(s50.total, 4);
  EXPECT_EQ(s50.idle, 2);
  EXPECT_EQ(s50.fragmented, 2);
  EXPECT_NE(UtilCsv({r}).find("fifo,50.000,V100,4,2,2,2"), std::string::npos) << UtilCsv({r});
}

TEST_F(SimOut, RestoreCostIsPerJobAndNeverAtFirstStart) {
  SimOptions o;
  o.round_s = 10;
  SimResult free = RunSimulation(one_, "las", W({Job(0, 0, 100), Job(1, 0, 100)}), o);
  // The global penalty, overridden to 0 for both jobs: nothing changes.
  o.preempt_penalty_s = 3;
  JobSpec a = Job(0, 0, 100), b = Job(1, 0, 100);
  a.restore_s = 0;
  b.restore_s = 0;
  SimResult zero = RunSimulation(one_, "las", W({a, b}), o);
  EXPECT_NEAR(zero.makespan_hours, free.makespan_hours, 1e-9);
  // Only job 0 pays, 2 s per restart.
  o.preempt_penalty_s = 0;
  a.restore_s = 2;
  o.record_jobs = true;
  SimResult paid = RunSimulation(one_, "las", W({a, b}), o);
  int restarts = 0;
  for (const auto& j : paid.jobs)
    if (j.id == 0) restarts = j.preemptions;
  ASSERT_GT(restarts, 0);
  EXPECT_NEAR(paid.makespan_hours * 3600, free.makespan_hours * 3600 + 2.0 * restarts, 1e-6);
}

TEST_F(SimOut, FirstStartCostOnlyWhenTheJobSaysSo) {
  SimOptions o;
  o.preempt_penalty_s = 50;  // a restore cost: not charged at the first start
  SimResult r = RunSimulation(one_, "fifo", W({Job(0, 0, 100)}), o);
  EXPECT_NEAR(r.jct_hours[0] * 3600, 100, 1e-6);
  JobSpec j = Job(0, 0, 100);
  j.first_start_cost_s = 20;
  r = RunSimulation(one_, "fifo", W({j}), o);
  EXPECT_NEAR(r.jct_hours[0] * 3600, 120, 1e-6);
}

const char* kHead = "job_id,submit_time_s,job_type,workers,total_steps";

TEST(TraceColumns, AcceleratorsPerWorkerPinsWorkersToNodes) {
  auto w = ParseCsvTrace(std::string(kHead) + ",accelerators_per_worker,restore_s,first_start_cost_s\n"
                         "0,0,ResNet-18 (batch size 64),2,100,4,30,5\n"
                         "1,0,ResNet-18 (batch size 64),3,100,,,\n",
                         "t.csv", Perf());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->jobs[0].workers, 8);
  EXPECT_EQ(w->jobs[0].unit, 4);
  EXPECT_EQ(w->jobs[0].restore_s, 30.0);
  EXPECT_EQ(w->jobs[0].first_start_cost_s, 5.0);
  EXPECT_EQ(w->jobs[1].workers, 3);
  EXPECT_EQ(w->jobs[1].unit, 1);
  EXPECT_FALSE(w->jobs[1].restore_s);
}

TEST(TraceColumns, BadValuesNameLineAndField) {
  struct Case {
    std::string row, want;
  };
  for (const auto& c : std::vector<Case>{{"0,0,ResNet-18 (batch size 64),1,100,0.2501,", "t.csv:2: field 'accelerators_per_worker'"},
                                         {"0,0,ResNet-18 (batch size 64),1,100,1.5,", "whole number"},
                                         {"0,0,ResNet-18 (batch size 64),1,100,0,", "whole number"},
                                         {"0,0,ResNet-18 (batch size 64),1,100,1,-3", "t.csv:2: field 'restore_s'"}}) {
    auto w = ParseCsvTrace(std::string(kHead) + ",accelerators_per_worker,restore_s\n" + c.row + "\n", "t.csv", Perf());
    ASSERT_FALSE(w.ok()) << c.row;
    EXPECT_NE(w.status().message().find(c.want), std::string::npos) << w.status().message();
  }
}

TEST(TraceColumns, RestoreCostsPerJobTypeFillJobsWithout) {
  auto w = ParseCsvTrace(std::string(kHead) + ",restore_s\n0,0,ResNet-18 (batch size 64),1,100,\n"
                         "1,0,ResNet-18 (batch size 64),1,100,7\n2,0,ResNet-50 (batch size 64),1,100,\n",
                         "t.csv", Perf());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::string path = ::testing::TempDir() + "/cnet_restore.csv";
  { std::ofstream(path) << "job_type,restore_s\nResNet-18 (batch size 64),40\n"; }
  ASSERT_TRUE(ApplyRestoreCosts(path, Perf(), &*w).ok());
  EXPECT_EQ(w->jobs[0].restore_s, 40.0);
  EXPECT_EQ(w->jobs[1].restore_s, 7.0);  // its own column wins
  EXPECT_FALSE(w->jobs[2].restore_s);
  { std::ofstream(path) << "job_type,restore_s\nResNet-18 (batch size 64),40\nNoSuchModel,3\n"; }
  Status st = ApplyRestoreCosts(path, Perf(), &*w);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path + ":3"), std::string::npos) << st.message();
}

TEST(TraceColumns, RestoreCostsFromCheckpointSize) {
  auto w = ParseCsvTrace(std::string(kHead) + "\n0,0,ResNet-18 (batch size 64),1,100\n", "t.csv", Perf());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::string path = ::testing::TempDir() + "/cnet_ckpt.csv";
  { std::ofstream(path) << "job_type,checkpoint_gib\nResNet-18 (batch size 64),10\n"; }
  EXPECT_FALSE(ApplyRestoreCosts(path, Perf(), &*w).ok());  // no bandwidth given
  ASSERT_TRUE(ApplyRestoreCosts(path, Perf(), &*w, 2.0).ok());
  EXPECT_NEAR(*w->jobs[0].restore_s, 10 * 1.073741824 / 2.0, 1e-9);
}

}  // namespace
}  // namespace cnet
