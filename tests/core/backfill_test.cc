// Backfill's per-cycle cache of failed gang sizes ("a gang of w failed on type a, so larger ones
// fail too") must not carry a failure across jobs of different shapes.
#include <gtest/gtest.h>

#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

JobSpec Job(int64_t id, int workers, int unit, const char* type, Seconds submit = 0) {
  JobSpec j;
  j.id = JobId(id);
  j.workers = workers;
  j.unit = unit;
  j.acceptable = {Accel(type)};
  j.total_steps = 1e6;  // no job type: 1 step/s, so steps are seconds
  j.submit_time_s = submit;
  return j;
}

// Two V100 nodes with 1 free package each; the K80 node is full. The head job waits for K80s (its
// reservation is on K80). Then a V100 gang of 2 with 2 packages per worker cannot start (no node
// has 2 free), but a V100 gang of 2 with 1 per worker can (one on each node) and delays nobody:
// backfill must start it.
TEST(Backfill, FailedGangWithLargerUnitDoesNotHideSmallerUnits) {
  auto cl = Cluster::Build("t", {{"s", "r", "r1", 1e9, "v", 2, Accel("V100"), 4},
                                 {"s", "r", "r2", 1e9, "k", 1, Accel("K80"), 4}},
                           TestCatalogue());
  ASSERT_TRUE(cl.ok());
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  Scheduler s(*cl, perf, std::move(reg.Create("backfill")).value(), {});
  Rng rng(1);
  ASSERT_TRUE(s.Admit(Job(1, 3, 1, "V100")).ok());
  ASSERT_TRUE(s.Admit(Job(2, 3, 1, "V100")).ok());
  ASSERT_TRUE(s.Admit(Job(3, 4, 1, "K80")).ok());
  ASSERT_EQ(s.RunCycle(0, true, rng).applied.size(), 3u);
  ASSERT_EQ(s.capacity().Free(NodeId(0)), 1);
  ASSERT_EQ(s.capacity().Free(NodeId(1)), 1);

  ASSERT_TRUE(s.Admit(Job(4, 4, 1, "K80", 1)).ok());   // head: reserved on K80
  ASSERT_TRUE(s.Admit(Job(5, 2, 2, "V100", 1)).ok());  // 2 per node: no room
  ASSERT_TRUE(s.Admit(Job(6, 2, 1, "V100", 1)).ok());  // 1 per node: fits
  CycleResult r = s.RunCycle(1, true, rng);
  EXPECT_TRUE(r.rejected.empty());
  ASSERT_EQ(r.applied.size(), 1u) << "the 2 x 1 gang fits spread over the two V100 nodes";
  EXPECT_EQ(r.applied[0].job, JobId(6));
  EXPECT_EQ(r.applied[0].placement.Nodes(), 2);
}

}  // namespace
}  // namespace cnet
