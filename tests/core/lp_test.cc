#include <gtest/gtest.h>

#include "sched/policy/maxmin_lp.h"

namespace cnet {
namespace {

// Two jobs, two types of one accelerator each. Job 0 is 4x faster on type 0, job 1 equal on both.
// Max-min of normalised throughput: job 0 on type 0, job 1 on type 1, both fully.
TEST(MaxMinLp, GivesEachJobItsComparativeAdvantage) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {4, 1, 1, 1};
  p.workers = {1, 1};
  p.capacity = {1, 1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_NEAR(s.x[0], 1, 1e-6);
  EXPECT_NEAR(s.x[1], 0, 1e-6);
  EXPECT_NEAR(s.x[3], 1, 1e-6);
  EXPECT_NEAR(s.z, 1, 1e-6);
}

TEST(MaxMinLp, SharesOneAcceleratorEquallyAndRespectsCapacity) {
  MaxMinProblem p;
  p.jobs = 3;
  p.types = 1;
  p.coef = {1, 1, 1};
  p.workers = {1, 1, 1};
  p.capacity = {1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  for (double x : s.x) EXPECT_NEAR(x, 1.0 / 3, 1e-6);
}

TEST(MaxMinLp, GangsCountTheirWorkersAgainstCapacity) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 1;
  p.coef = {1, 1};
  p.workers = {4, 1};
  p.capacity = {4};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_LE(4 * s.x[0] + s.x[1], 4 + 1e-6);
  // Equal normalised throughput at the optimum (phase two keeps z within 1e-6 of it).
  EXPECT_NEAR(s.x[0], s.x[1], 1e-5);
  EXPECT_NEAR(s.x[0], 0.8, 1e-5);
}

TEST(MaxMinLp, PhaseTwoUsesLeftoverCapacity) {
  // Job 1 can only use type 0 (shared with job 0); type 1 is job 0's alone. The min is set by
  // the shared type; phase two must still hand job 0 all of type 1.
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {1, 1, 1, 0};
  p.workers = {1, 1};
  p.capacity = {1, 1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_NEAR(s.x[2], 1, 1e-6);  // job 1 gets all of type 0
  EXPECT_NEAR(s.x[1], 1, 1e-6);  // job 0 gets all of type 1
  EXPECT_NEAR(s.x[3], 0, 1e-9);
}

TEST(MaxMinLp, JobsThatCannotRunDoNotPinTheObjective) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {1, 0, 0, 0};  // job 1 has no usable type
  p.workers = {1, 1};
  p.capacity = {1, 0};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_NEAR(s.x[0], 1, 1e-6);
  EXPECT_NEAR(s.z, 1, 1e-6);
}

}  // namespace
}  // namespace cnet
