// Issue 13 part B: a rack's power budget (a site's demand-response limit) below its cap. New work
// is placed only within min(cap, budget); running work keeps its packages when the budget drops
// under its draw; what can ever run is still judged against the cap, so a job submitted during a
// low budget waits instead of being rejected.
#include <gtest/gtest.h>

#include <cmath>

#include "sched/placement.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

// One rack, one node of 8 V100 (300 W busy, 40 W idle: 320 W idle draw, 260 W per busy package).
Cluster OneRack() {
  auto cl = Cluster::Build("t", {{"s", "r", "rack", 10, "n", 1, Accel("V100"), 8}}, TestCatalogue());
  EXPECT_TRUE(cl.ok()) << cl.status().ToString();
  return std::move(cl).value();
}

JobSpec Job(int64_t id, int workers) {
  JobSpec j;
  j.id = JobId(id);
  j.workers = workers;
  j.acceptable = {Accel("V100")};
  j.total_steps = 100;
  return j;
}

TEST(PowerBudgetTest, NewPlacementsStayWithinTheBudgetAndRunningWorkStays) {
  const Cluster cl = OneRack();
  Capacity cap(cl, TestCatalogue());
  const RackId rack(0);
  EXPECT_TRUE(std::isinf(cap.RackBudgetW(rack)));
  cap.SetRackBudgetW(rack, 320 + 2 * 260);  // room for two busy packages
  EXPECT_FALSE(FindPlacement(cap, Job(1, 3), Accel("V100")));
  auto two = FindPlacement(cap, Job(1, 2), Accel("V100"));
  ASSERT_TRUE(two);
  cap.Take(*two);
  cap.SetRackBudgetW(rack, 400);  // below the draw: nothing new, nothing taken away
  EXPECT_EQ(cap.Free(NodeId(0)), 6);
  EXPECT_LT(cap.RackHeadroomW(rack), 0);
  EXPECT_FALSE(FindPlacement(cap, Job(2, 1), Accel("V100")));
  cap.SetRackBudgetW(rack, HUGE_VAL);  // lifted: the cap (10 kW) rules again
  EXPECT_TRUE(FindPlacement(cap, Job(2, 6), Accel("V100")));
}

TEST(PowerBudgetTest, AJobSubmittedUnderALowBudgetWaitsAndRunsWhenItRises) {
  const Cluster cl = OneRack();
  PerfModel perf{TestCatalogue(), testing::GavelMatrix()};
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions o;
  o.explain_waiting = true;
  Scheduler s(cl, perf, std::move(reg.Create("fifo-hetero")).value(), o);
  Rng rng{1};
  s.SetRackBudgetW(RackId(0), 100);  // below even the idle draw
  ASSERT_TRUE(s.Admit(Job(1, 8)).ok()) << "admission judges the cap, not today's budget";
  CycleResult r = s.RunCycle(0, true, rng);
  EXPECT_TRUE(r.applied.empty() || r.applied.front().action != Action::kPlace);
  EXPECT_EQ(s.running().size(), 0u);
  EXPECT_EQ(s.pending().size(), 1u);
  s.SetRackBudgetW(RackId(0), HUGE_VAL);
  s.RunCycle(1, true, rng);
  EXPECT_EQ(s.running().size(), 1u);
}

}  // namespace
}  // namespace cnet
