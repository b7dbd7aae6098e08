// Issue 10 item 2: time-sharing policies on clusters where little or nothing contends.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

const char* const kTimeSharing[] = {"las", "las-hetero", "ftf-hetero", "makespan-hetero",
                                    "max-sum-throughput"};

std::unique_ptr<Scheduler> MakeScheduler(const std::string& policy, const Cluster& cl,
                                         const PerfModel& perf) {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  auto p = reg.Create(policy);
  EXPECT_TRUE(p.ok()) << policy;
  return std::make_unique<Scheduler>(cl, perf, std::move(p).value(), SchedulerOptions{});
}

JobSpec LongJob(int id, const std::string& type, int workers) {
  JobSpec j;
  j.id = JobId(id);
  j.job_type = type;
  j.workers = workers;
  j.total_steps = 1e12;  // runs for the whole test
  return j;
}

// 8-GPU gangs on a cluster with 2-GPU K80 nodes and 8-GPU V100 nodes: a gang that one V100 node
// holds is never split over K80 nodes (las did, issue 10).
TEST(TimeSharingChurn, GangsAreNotSplitWhileANodeHoldsThem) {
  std::vector<Cluster::GroupSpec> g;
  g.push_back({"s", "r", "k", 1e9, "k80", 8, Accel("K80"), 2});
  g.push_back({"s", "r", "v", 1e9, "v100", 2, Accel("V100"), 8});
  auto cl = Cluster::Build("split", g, TestCatalogue());
  ASSERT_TRUE(cl.ok());
  const PerfModel perf(TestCatalogue(), GavelMatrix());
  for (const char* policy : kTimeSharing) {
    SCOPED_TRACE(policy);
    auto s = MakeScheduler(policy, *cl, perf);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Admit(LongJob(i, "ResNet-50 (batch size 64)", 8)).ok());
    Rng rng(1);
    for (int round = 0; round < 20; ++round) {
      (void)s->RunCycle(360.0 * round, true, rng);
      for (JobId id : s->running())
        EXPECT_EQ(s->Find(id)->placement.Nodes(), 1) << "job " << id.value() << " round " << round;
    }
  }
}

// Single jobs far below capacity, arriving one per round: nothing contends, so nothing is
// preempted or moved, and jobs of equal rate on two types do not all go to the first.
TEST(TimeSharingChurn, IdleClusterNeverPreemptsAndSpreadsEqualRates) {
  auto m = ThroughputMatrix::ParseCsv(
      "job_type,accelerator,workers,steps_per_second\nE,K80,1,2.0\nE,P100,1,2.0\nE,V100,1,2.0\n",
      "equal.csv", TestCatalogue());
  ASSERT_TRUE(m.ok());
  const PerfModel perf(TestCatalogue(), *m);
  std::vector<Cluster::GroupSpec> g;
  g.push_back({"s", "r", "k", 1e9, "k80", 4, Accel("K80"), 4});
  g.push_back({"s", "r", "p", 1e9, "p100", 4, Accel("P100"), 4});
  g.push_back({"s", "r", "v", 1e9, "v100", 4, Accel("V100"), 4});
  auto cl = Cluster::Build("idle", g, TestCatalogue());
  ASSERT_TRUE(cl.ok());
  for (const char* policy : kTimeSharing) {
    SCOPED_TRACE(policy);
    auto s = MakeScheduler(policy, *cl, perf);
    Rng rng(2);
    size_t preempts = 0;
    for (int round = 0; round < 30; ++round) {
      if (round < 6) {
        ASSERT_TRUE(s->Admit(LongJob(round, "E", 1)).ok());
      }
      for (const auto& d : s->RunCycle(360.0 * round, true, rng).applied)
        preempts += d.action == Action::kPreempt;
    }
    EXPECT_EQ(preempts, 0u);
    std::map<int, int> per_type;
    for (JobId id : s->running()) ++per_type[s->Find(id)->placement.accel.value()];
    EXPECT_EQ(s->running().size(), 6u);
    // las is blind to rates (its types are a weighted draw); the others see equal rates.
    if (std::string(policy) != "las") {
      EXPECT_EQ(per_type.size(), 3u) << "equal rates must not all tie-break to one type";
    }
  }
}

}  // namespace
}  // namespace cnet
